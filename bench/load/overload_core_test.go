package load

import (
	"os"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/bench/proc"
)

func TestCoreSecondIsEachShareOfTheElapsedTime(t *testing.T) {
	t0 := time.Unix(100, 0)
	a := coreSample{at: t0, core: proc.Machine{Busy: time.Second, SoftIRQ: time.Second, Steal: 0}, server: 2 * time.Second}
	b := coreSample{at: t0.Add(2 * time.Second), core: proc.Machine{Busy: 2500 * time.Millisecond, SoftIRQ: 1400 * time.Millisecond, Steal: 100 * time.Millisecond}, server: 3 * time.Second}
	got := second(a, b)
	want := CoreSecond{ServerPct: 50, SoftIRQPct: 20, StealPct: 5, BusyPct: 75}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if z := second(b, b); z != (CoreSecond{}) {
		t.Fatalf("no time elapsed gave %+v, want zeros", z)
	}
}

func TestCoreTimelineRecordsSecondsUntilEnded(t *testing.T) {
	if startCoreTimeline(0, 0) != nil || startCoreTimeline(os.Getpid(), -1) != nil {
		t.Fatal("a timeline without a pid or a pinned core must not start")
	}
	tl := startCoreTimeline(os.Getpid(), 0)
	deadline := time.Now().Add(10 * time.Second)
	for {
		tl.mu.Lock()
		n := len(tl.secs)
		tl.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no second recorded in 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	secs := tl.end()
	if len(secs) == 0 {
		t.Fatal("end returned no seconds")
	}
	for _, s := range secs {
		// A tick-counted share can overshoot 100 a little.
		for _, v := range []float64{s.ServerPct, s.SoftIRQPct, s.StealPct, s.BusyPct} {
			if v < 0 || v > 150 {
				t.Fatalf("a share outside 0..150 %%: %+v", s)
			}
		}
	}
}
