package proc

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// The probe runs on the core asked for, reports a plausible time and
// leaves the thread's affinity as it found it.
func TestSpeedProbeRunsAndRestoresAffinity(t *testing.T) {
	runtime.LockOSThread() // the probe then runs on this very thread (locks nest)
	defer runtime.UnlockOSThread()
	var before unix.CPUSet
	if err := unix.SchedGetaffinity(0, &before); err != nil {
		t.Fatal(err)
	}
	cpu := 0
	for ; cpu < 1024 && !before.IsSet(cpu); cpu++ {
	}
	d, err := SpeedProbe(cpu)
	if err != nil {
		t.Fatal(err)
	}
	// 4000 AES-GCM seals of 1.2 kB and a 4 MiB walk: well above a tick of
	// CPU time on no machine, and far below a second on any.
	t.Logf("probe: %v", d)
	if d <= 0 || d.Seconds() > 1 {
		t.Fatalf("probe took %v of CPU", d)
	}
	var after unix.CPUSet
	if err := unix.SchedGetaffinity(0, &after); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("affinity %v after the probe, was %v", after, before)
	}
}
