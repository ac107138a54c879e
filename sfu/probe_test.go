package sfu

import (
	"testing"
	"time"
)

// The allocator asks for a probe while it holds a slot below what its
// viewer asked for, and asks for none once it has it all; a delivered
// probe ends the hold after a downgrade, so the next round upgrades.
func TestAllocatorAsksForProbesAndADeliveredOneLiftsTheHold(t *testing.T) {
	x := newLayered(t, 1, peerHooks{})
	for l, bps := range []int64{150_000, 500_000, 1_500_000} {
		x.layers[l].bitrate.Store(bps)
	}
	v := x.viewers[0]
	sl := v.slots[0]
	capOf := func() int {
		x.r.mu.Lock()
		defer x.r.mu.Unlock()
		return sl.capLayer
	}
	alloc := func(est int64) {
		v.estimate.Store(est)
		v.allocate()
	}
	alloc(2_000_000)
	if c, w := capOf(), v.probe.want.Load(); c != layerHigh || w != 0 {
		t.Fatalf("2 Mbit/s: cap %d, probe wanted %d; want high and none", c, w)
	}
	alloc(100_000)
	if c := capOf(); c != layerOff || !sl.paused {
		t.Fatalf("100 kbit/s: cap %d paused %v, want the slot paused", c, sl.paused)
	}
	// Enough to prove high fits, with the upgrade's headroom.
	if w := v.probe.want.Load(); w < 1_500_000*upgradeHeadroom {
		t.Fatalf("paused, the prober was asked for %d bit/s", w)
	}
	alloc(5_000_000) // the growth alone: still within the hold
	if c := capOf(); c != layerOff {
		t.Fatalf("resumed on %d within the hold, with no probe", c)
	}
	v.probe.deliveredBps.Store(5_000_000) // the writer's, on a delivered probe
	v.probe.deliveredAt.Store(time.Now().UnixNano())
	alloc(5_000_000)
	if c, w := capOf(), v.probe.want.Load(); c != layerHigh || w != 0 {
		t.Fatalf("after a delivered probe: cap %d, probe wanted %d; want high and none", c, w)
	}
}

// A subscriber with NoProbing is never probed, held or not.
func TestNoProbingAsksForNone(t *testing.T) {
	x := newLayered(t, 1, peerHooks{noProbe: true})
	for l, bps := range []int64{150_000, 500_000, 1_500_000} {
		x.layers[l].bitrate.Store(bps)
	}
	v := x.viewers[0]
	v.estimate.Store(400_000)
	v.allocate()
	if w := v.probe.want.Load(); w != 0 {
		t.Fatalf("probe wanted %d for a subscriber with NoProbing", w)
	}
}

func TestAdaptValidate(t *testing.T) {
	if err := (Adapt{}).validate(); err != nil {
		t.Fatal(err)
	}
	for _, a := range []Adapt{{ProbeViewerRate: -1}, {ProbeNodeRate: -1}} {
		if a.validate() == nil {
			t.Errorf("%+v accepted", a)
		}
	}
	if _, err := New(Config{ListenIP: "127.0.0.1", Adapt: Adapt{ProbeNodeRate: -5}}); err == nil {
		t.Error("New accepted a negative probe rate")
	}
}
