package sfu

import (
	"errors"
	"testing"
	"time"
)

// hotWindows feeds a measuredNode's sampler one second at a time, as
// windows does, with the process's CPU over each second as a share of the
// node's cores.
type hotWindows struct{ windows }

func (w *hotWindows) next(sent, dropped, share float64) {
	w.c.cpu += share * float64(w.s.ov.cores)
	w.windows.next(sent, dropped)
}

// admits says how many more subscribers the node admits now (up to 3),
// and gives their places back.
func admits(s *SFU) int {
	n := 0
	for ; n < 3; n++ {
		if err := s.admitSubscriber(); err != nil {
			if !errors.Is(err, ErrOverloaded) {
				panic(err)
			}
			break
		}
	}
	for range n {
		s.releaseSubscriber()
	}
	return n
}

// With no budget, seconds in which the process typically (the median of
// the last five) used EgressCPU of its cores hold admission at what the
// node typically sends, before any drop and without refusing everyone as
// the behind rule does. One cool second among hot ones lifts nothing;
// typically cooler seconds lift the ceiling as clean ones do, and a minute
// after the last hot second it is forgotten.
func TestWithoutABudgetAHotNodeHoldsAdmission(t *testing.T) {
	s, t0 := measuredNode(t, Overload{EgressFloor: 500, EgressCPU: 90}, 10)
	ws := hotWindows{windows{s: s, t0: t0}}
	for _, share := range []float64{0.5, 0.5, 0.95} { // 10 viewers due 100 each
		ws.next(1000, 0, share)
	}
	if got := admits(s); got != 3 || s.ov.ceiling.Load() != 0 {
		t.Fatalf("typically at 50 %%: %d admitted, ceiling %d; want 3 and none", got, s.ov.ceiling.Load())
	}
	ws.next(1000, 0, 0.95) // 50, 50, 95, 95: typically 95 (the upper median)
	if s.ov.behind.Load() {
		t.Fatal("a hot node is behind: it refuses nobody for that")
	}
	if got := s.ov.ceiling.Load(); got != 1000 {
		t.Fatalf("ceiling %d on a hot node, want what it sends, 1000", got)
	}
	if got := admits(s); got != 0 {
		t.Fatalf("%d admitted at the ceiling, want none (the 11th costs 1100)", got)
	}
	if got := gaugeValue(t, s.m.ov.cpuShare); got < 0.949 || got > 0.951 {
		t.Fatalf("egress_cpu_share %v, want 0.95", got)
	}
	if got := gaugeValue(t, s.m.ov.cpuHot); got != 1 {
		t.Fatalf("egress_cpu_hot %v, want 1", got)
	}
	ws.next(1000, 0, 0.95)
	for i := range 2 { // 95, 95, 95, 50 …: still typically 95
		ws.next(1000, 0, 0.5)
		if got := admits(s); got != 0 {
			t.Fatalf("cool second %d among hot ones let %d in", i+1, got)
		}
	}
	ws.next(1000, 0, 0.5) // 95, 95, 50, 50, 50: typically 50, one viewer over
	if got := admits(s); got != 1 || s.ov.ceiling.Load() != 1100 {
		t.Fatalf("typically cool: %d admitted at ceiling %d, want 1 at 1100", got, s.ov.ceiling.Load())
	}
	if got := gaugeValue(t, s.m.ov.cpuHot); got != 0 {
		t.Fatalf("egress_cpu_hot %v, want 0", got)
	}
	for i := 2; i < 60; i++ { // the last hot second was the seventh
		ws.next(1000, 0, 0.5)
		if s.ov.ceiling.Load() == 0 {
			t.Fatalf("ceiling forgotten %d s after the last hot second, want a minute", i)
		}
	}
	ws.next(1000, 0, 0.5)
	if got := s.ov.ceiling.Load(); got != 0 {
		t.Fatalf("ceiling %d a minute after the last hot second, want forgotten", got)
	}
}

// The CPU rule judges only the seconds the behind rule would: under the
// floor a busy process is a test box or a stall, not load. It is off at
// 0, and with a budget, which the operator measured.
func TestTheCPURuleJudgesOnlyLoadedSecondsWithoutABudget(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Overload
	}{
		{"under the floor", Overload{EgressFloor: 5000, EgressCPU: 90}},
		{"off", Overload{EgressFloor: 500}},
		{"with a budget", Overload{EgressBudget: 1_000_000, EgressCPU: 90}},
	} {
		s, t0 := measuredNode(t, tc.cfg, 10)
		ws := hotWindows{windows{s: s, t0: t0}}
		ws.next(1000, 0, 1)
		ws.next(1000, 0, 1)
		if got := s.ov.ceiling.Load(); got != 0 || admits(s) != 3 {
			t.Fatalf("%s: seconds at 100 %% CPU set a ceiling of %d", tc.name, got)
		}
	}
}

// processCPU reads the process's own CPU time: it grows as the process
// works.
func TestProcessCPUCountsTheProcesssWork(t *testing.T) {
	before := processCPU()
	deadline := time.Now().Add(10 * time.Second)
	for x := uint64(1); processCPU()-before < 0.02; x = x*6364136223846793005 + 1 {
		if time.Now().After(deadline) {
			t.Fatalf("processCPU moved %v s in 10 s of a busy loop", processCPU()-before)
		}
	}
}
