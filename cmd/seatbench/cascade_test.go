package main

import (
	"strings"
	"testing"

	"github.com/seatsfu/seatsfu/bench/load"
)

// TestCascadeCapacity: the capacity paragraph's arithmetic on figures
// chosen by hand — marginal costs from the differences between steps, not
// from one step's total.
func TestCascadeCapacity(t *testing.T) {
	step := func(layout string, viewers int, cpu ...float64) load.CascadeStep {
		s := load.CascadeStep{Layout: layout, Viewers: viewers, Connected: viewers}
		for i, c := range cpu {
			v := viewers / 2
			switch {
			case layout != "cascade" && i == 0:
				v = viewers
			case layout != "cascade" || i == 0:
				v = 0
			}
			s.Nodes = append(s.Nodes, load.CascadeNodeFigures{Name: "n", Viewers: v, CPUPct: c})
		}
		return s
	}
	r := &load.CascadeResult{CPUs: 2, Steps: []load.CascadeStep{
		step("cascade", 20, 5, 10, 10),
		step("cascade", 200, 5, 40, 40),
		step("host only", 100, 50, 0, 0),
	}}
	got := cascadeCapacity(r)
	for _, want := range []string{
		"grew 20 → 200:** 5.0% → 5.0% of a core",
		"per viewer 0.459% (marginal, against the cascade step), fixed 4.1%: about 209 viewers per core",
		"each edge node pays 0.333% of a core per viewer (marginal) and 6.7% fixed for its cascade: about 280 viewers per core",
		"predicts 767 viewers (2 edges × 280, plus 207 the host still has room for) against 209 for one machine",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("capacity paragraph lacks %q:\n%s", want, got)
		}
	}
}
