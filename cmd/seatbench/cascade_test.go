package main

import (
	"strings"
	"testing"

	"github.com/seatsfu/seatsfu/bench/load"
)

// TestCascadeCapacity: the capacity paragraph's arithmetic on figures
// chosen by hand (237 pkt/s a viewer) — marginal costs per packet from the
// differences between windows, not from one window's total.
func TestCascadeCapacity(t *testing.T) {
	const pps = 237
	node := func(viewers int, cpu, fwd float64) load.CascadeNodeFigures {
		return load.CascadeNodeFigures{Name: "n", Viewers: viewers, CPUPct: cpu, ForwardedPPS: fwd}
	}
	host := func(n load.CascadeNodeFigures) load.CascadeNodeFigures { n.Cascades = 2; return n }
	step := func(layout string, viewers int, nodes ...load.CascadeNodeFigures) load.CascadeStep {
		return load.CascadeStep{Layout: layout, Viewers: viewers, Connected: viewers, ExpectedPPS: float64(viewers * pps), Nodes: nodes}
	}
	r := &load.CascadeResult{CPUs: 2, Steps: []load.CascadeStep{
		step("cascade", 20, host(node(0, 5, 2*pps)), node(10, 10, 10*pps), node(10, 10, 10*pps)),
		step("cascade", 200, host(node(0, 5, 2*pps)), node(100, 40, 100*pps), node(100, 40, 100*pps)),
		step("host only", 100, node(100, 50, 100*pps), node(0, 0, 0), node(0, 0, 0)),
	}}
	got := cascadeCapacity(r)
	for _, want := range []string{
		"grew 20 → 200:** 5.0% → 5.0% of a core (forwarded 474 → 474 pkt/s, to 2 → 2 cascades)",
		"marginal 19.37 µs a packet, 0.459% of a core a viewer, fixed 4.1%: about 209 viewers per core",
		"marginal cost is 14.06 µs a packet, 0.333% of a core a viewer, plus 6.7% fixed for its cascade: about 280 viewers per core",
		"predicts 767 viewers (2 edges × 280, plus 207 the host still has room for) against 209 for one machine",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("capacity paragraph lacks %q:\n%s", want, got)
		}
	}
	// A run where a node's cost did not grow says so rather than divide.
	r.Steps[1].Nodes[1].CPUPct, r.Steps[1].Nodes[2].CPUPct = 10, 10
	if got := cascadeCapacity(r); !strings.Contains(got, "too small or too noisy") {
		t.Errorf("no estimate expected from flat edge CPU:\n%s", got)
	}
}
