package cpuprofile

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The cut-signal loop is stop's to end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// With the variable set, Start writes a profile to the named file, %p
// replaced by the pid; stop finishes it (a gzipped protobuf).
func TestStartWritesTheProfileAtStop(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(Env, filepath.Join(dir, "cpu-%p.pprof"))
	stop := Start()
	stop()
	b, err := os.ReadFile(filepath.Join(dir, "cpu-"+strconv.Itoa(os.Getpid())+".pprof"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("the profile is not gzipped pprof data (%d bytes)", len(b))
	}
}

// Unset, Start does nothing and its stop is safe to call.
func TestStartUnsetDoesNothing(t *testing.T) {
	t.Setenv(Env, "")
	Start()()
}

// A cut signal writes what was profiled so far and goes on in the next
// segment's file; stop finishes that one.
func TestCutSignalStartsTheNextSegment(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(Env, filepath.Join(dir, "cpu-%p.pprof"))
	stop := Start()
	if err := syscall.Kill(os.Getpid(), CutSignal); err != nil {
		stop()
		t.Fatal(err)
	}
	second := filepath.Join(dir, "cpu-"+strconv.Itoa(os.Getpid())+".1.pprof")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(second); err == nil {
			break
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatal("no second segment after the cut")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	for _, name := range []string{"cpu-" + strconv.Itoa(os.Getpid()) + ".pprof", filepath.Base(second)} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Fatalf("%s is not gzipped pprof data (%d bytes)", name, len(b))
		}
	}
}

func TestSegmentNames(t *testing.T) {
	for n, want := range []string{"/x/cpu-1.pprof", "/x/cpu-1.1.pprof", "/x/cpu-1.2.pprof"} {
		if got := segment("/x/cpu-1.pprof", n); got != want {
			t.Errorf("segment %d = %q, want %q", n, got, want)
		}
	}
}
