package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/media"
	"github.com/seatsfu/seatsfu/seat"
)

// cohostView is a viewer of room home whose subscription has seat 0's
// video slot and co-host video slot 1, both rooms' owners publishing three
// simulcast layers (the simulcast harness, two rooms on one SFU).
type cohostView struct {
	home, other  *layered
	v            *viewer
	seatW, coW   *recordingWriter
	seatSl, coSl *slot
	mu           sync.Mutex
	quality      map[[2]int]SlotQuality // the last rtc.quality per (seatIndex, cohostIndex)
	layers       []LayerSet             // other's rtc.publisherLayers
}

func newCohostView(t *testing.T) *cohostView {
	t.Helper()
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &SFU{m: m, log: slog.Default(), cfg: Config{ViewerQueue: 1024}, videoCodec: media.CodecVP8}
	withWriters(t, s)
	c := &cohostView{quality: map[[2]int]SlotQuality{}}
	c.home = newLayeredIn(t, s, "home", 0, peerHooks{})
	c.other = newLayeredIn(t, s, "other", 0, peerHooks{onLayers: func(l LayerSet) {
		c.mu.Lock()
		c.layers = append(c.layers, l)
		c.mu.Unlock()
	}})
	c.other.pub.layersSent = LayerSet{} // nobody receives anything yet

	r := c.home.r
	v := newViewer(r, "fan", &Peer{}, 1024)
	v.peer.viewer = v
	v.hooks = peerHooks{onQuality: func(qs []SlotQuality) {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, q := range qs {
			c.quality[[2]int{q.SeatIndex, q.CohostIndex}] = q
		}
	}}
	v.quality = newCoalescer(v.peer, qualityEvery, v.reportQuality)
	c.seatSl = newSlot(v, videoIdx, 0, s.newSlotTrack(videoIdx, 0))
	c.coSl = newSlot(v, videoIdx, -1, s.newCohostSlotTrack(videoIdx, 1))
	c.coSl.cohost = 1
	c.seatW, c.coW = &recordingWriter{codec: media.CodecVP8}, &recordingWriter{codec: media.CodecVP8}
	c.seatSl.track.bound.Store(&boundTrack{w: c.seatW, ssrc: 7000, pt: 96})
	c.coSl.track.bound.Store(&boundTrack{w: c.coW, ssrc: 7001, pt: 96})
	v.slots = []*slot{c.seatSl, c.coSl}
	c.v = v

	r.mu.Lock()
	r.viewers[v] = struct{}{}
	r.seats[0].slots[videoIdx] = append(r.seats[0].slots[videoIdx], c.seatSl)
	c.seatSl.repoint(r.seats[0].src[videoIdx])
	r.refreshSinks(r.seats[0].src[videoIdx])
	r.mu.Unlock()
	r.attachCohost(v)
	t.Cleanup(func() {
		r.detachCohost(v)
		r.detachViewer(v)
		c.home.stop()
		c.other.stop()
	})
	return c
}

func (c *cohostView) sendFrame() {
	c.home.sendFrame(3)
	c.other.sendFrame(3)
}

// noted waits (sending frames) for rtc.quality to have said q of its slot.
func (c *cohostView) noted(t *testing.T, q SlotQuality) {
	t.Helper()
	eventually(t, 5*time.Second, fmt.Sprintf("rtc.quality %+v", q), func() bool {
		c.sendFrame()
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.quality[[2]int{q.SeatIndex, q.CohostIndex}] == q
	})
}

// coLayer is the layer the co-host slot carries, -1 for none.
func (c *cohostView) coLayer() int {
	if b := c.coSl.binding.Load(); b != nil {
		return b.src.layer
	}
	return -1
}

// caps is what the allocator left each slot: seat 0's, the co-host slot's.
func (c *cohostView) caps() (seat0, co int) {
	c.home.r.mu.Lock()
	seat0 = c.seatSl.capLayer
	c.home.r.mu.Unlock()
	c.other.r.mu.Lock()
	co = c.coSl.capLayer
	c.other.r.mu.Unlock()
	return seat0, co
}

func (c *cohostView) lastLayers() LayerSet {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.layers) == 0 {
		return LayerSet{}
	}
	return c.layers[len(c.layers)-1]
}

// A co-host slot is a slot like a seat's for §9: rtc.setQuality
// {cohostIndex} moves it to the asked layer on that layer's keyframe
// (same SSRC, sequence numbers +1), rtc.quality reports it by its
// cohostIndex, and the other room's publisher counts it among the layers
// viewers receive.
func TestCohostSlotQualityIsAskedReportedAndSwitchedOnKeyframes(t *testing.T) {
	c := newCohostView(t)
	c.noted(t, SlotQuality{SeatIndex: -1, CohostIndex: 1, Layer: "none"}) // no connection yet
	c.noted(t, SlotQuality{SeatIndex: 0, Layer: "high"})

	c.home.r.SetCohosts([]*Room{c.other.r})
	c.noted(t, SlotQuality{SeatIndex: -1, CohostIndex: 1, Layer: "high"})
	eventually(t, 5*time.Second, "other's publisher told high is received", func() bool {
		c.sendFrame()
		return c.lastLayers() == LayerSet{High: true}
	})

	if err := c.v.peer.SetCohostQuality(1, QualityLow); err != nil {
		t.Fatal(err)
	}
	c.noted(t, SlotQuality{SeatIndex: -1, CohostIndex: 1, Layer: "low", Reason: "requested"})
	if c.coLayer() != layerLow {
		t.Fatalf("co-host slot on layer %d, want low", c.coLayer())
	}
	eventually(t, 5*time.Second, "other's publisher told only low is received", func() bool {
		c.sendFrame()
		return c.lastLayers() == LayerSet{Low: true}
	})
	eventually(t, 5*time.Second, "low on the wire", func() bool {
		c.sendFrame()
		p := c.coW.packets()
		return len(p) > 0 && p[len(p)-1].layer == layerLow
	})
	c.mu.Lock()
	if q := c.quality[[2]int{0, 0}]; q.Layer != "high" {
		t.Errorf("seat 0 moved with the co-host slot: %+v", q)
	}
	c.mu.Unlock()

	pkts := c.coW.packets()
	switched := false
	for i := 1; i < len(pkts); i++ {
		prev, p := pkts[i-1], pkts[i]
		if p.ssrc != pkts[0].ssrc {
			t.Fatalf("packet %d: SSRC changed", i)
		}
		if p.seq != prev.seq+1 {
			t.Fatalf("packet %d: sequence number steps by %d", i, int16(p.seq-prev.seq))
		}
		if int32(p.ts-prev.ts) < 0 {
			t.Fatalf("packet %d: timestamp goes back", i)
		}
		if p.layer != prev.layer {
			switched = true
			if p.layer != layerLow || !p.keyStart {
				t.Fatalf("packet %d: switch %d→%d not on low's keyframe", i, prev.layer, p.layer)
			}
		}
	}
	if !switched {
		t.Fatal("the co-host slot never switched on the wire")
	}

	if err := c.v.peer.SetCohostQuality(1, QualityOff); err != nil {
		t.Fatal(err)
	}
	c.noted(t, SlotQuality{SeatIndex: -1, CohostIndex: 1, Layer: "paused", Reason: "requested"})
	if c.coLayer() != -1 || c.seatSl.binding.Load() == nil {
		t.Fatal("off did not stop the co-host slot alone")
	}

	// The wish outlives the connection: a slot that carries no room keeps
	// it, and the next room starts on it.
	c.home.r.SetCohosts(nil)
	c.noted(t, SlotQuality{SeatIndex: -1, CohostIndex: 1, Layer: "none"})
	if err := c.v.peer.SetCohostQuality(1, QualityMedium); err != nil {
		t.Fatal(err)
	}
	c.home.r.SetCohosts([]*Room{c.other.r})
	c.noted(t, SlotQuality{SeatIndex: -1, CohostIndex: 1, Layer: "medium", Reason: "requested"})
}

func TestCohostQualityRefusesBadIndexes(t *testing.T) {
	c := newCohostView(t)
	for _, k := range []int{0, -1, defaultMaxCohosts} {
		if err := c.v.peer.SetCohostQuality(k, QualityLow); !errors.Is(err, seat.ErrInvalidParams) {
			t.Errorf("cohostIndex %d: %v, want invalid_params", k, err)
		}
	}
	if err := c.v.peer.SetCohostQuality(1, "ultra"); !errors.Is(err, ErrBadQuality) {
		t.Errorf("bad quality: %v", err)
	}
	// A slot the subscription does not have: nothing to do.
	if err := c.v.peer.SetCohostQuality(defaultMaxCohosts-1, QualityLow); err != nil {
		t.Errorf("cohostIndex %d: %v", defaultMaxCohosts-1, err)
	}
	if err := (&Peer{}).SetCohostQuality(1, QualityLow); !errors.Is(err, seat.ErrInvalidParams) {
		t.Errorf("on a publish connection: %v", err)
	}
}

// The allocator gives seat 0 its share first, then the co-host slot what
// is left: down a layer, down to the lowest, paused; and back when the
// estimate recovers and the hold is over.
func TestAllocatorFitsCohostSlotsAfterSeatZero(t *testing.T) {
	c := newCohostView(t)
	for _, x := range []*layered{c.home, c.other} {
		for l, bps := range []int64{150_000, 500_000, 1_500_000} {
			x.layers[l].bitrate.Store(bps)
		}
	}
	c.home.r.SetCohosts([]*Room{c.other.r})
	alloc := func(est int64) {
		c.v.estimate.Store(est)
		c.v.allocate()
	}
	expect := func(est int64, seat0, co int) {
		t.Helper()
		alloc(est)
		if s, k := c.caps(); s != seat0 || k != co {
			t.Fatalf("%d bit/s: caps seat 0 %d co-host %d, want %d and %d", est, s, k, seat0, co)
		}
	}
	expect(3_500_000, layerHigh, layerHigh)
	expect(2_200_000, layerHigh, layerMedium) // seat 0 first: 0.7 Mbit/s left
	if p := c.coSl.pending.Load(); p == nil || p.src != c.other.layers[layerMedium] {
		t.Fatal("the co-host downgrade is not waiting for medium's keyframe")
	}
	expect(1_700_000, layerHigh, layerLow)
	expect(1_550_000, layerHigh, layerOff)
	if c.coLayer() != -1 || !c.coSl.paused {
		t.Fatal("the co-host slot is not paused at once")
	}
	c.noted(t, SlotQuality{SeatIndex: -1, CohostIndex: 1, Layer: "paused", Reason: "bandwidth"})
	c.noted(t, SlotQuality{SeatIndex: 0, Layer: "high"})
	if g := gaugeValue(t, c.home.r.s.m.pausedSlots); g != 1 {
		t.Fatalf("paused_slots %v, want 1", g)
	}

	// Within the hold no upgrade; after it, one step a round.
	expect(5_000_000, layerHigh, layerOff)
	c.home.r.mu.Lock()
	c.v.budget.upgradeAt = time.Now().Add(-time.Millisecond)
	c.home.r.mu.Unlock()
	expect(5_000_000, layerHigh, layerHigh)
	c.noted(t, SlotQuality{SeatIndex: -1, CohostIndex: 1, Layer: "high"})
}

// A co-host slot's wish and share are also a guest's state in the other
// room: its reconcile (a new owner video) re-points the slot to what the
// allocator left it, not to the best layer.
func TestCohostSlotKeepsItsCapThroughTheOtherRoomsReconcile(t *testing.T) {
	c := newCohostView(t)
	c.home.r.SetCohosts([]*Room{c.other.r})
	if err := c.v.peer.SetCohostQuality(1, QualityMedium); err != nil {
		t.Fatal(err)
	}
	r := c.other.r
	r.mu.Lock()
	r.reselectSeat(0) // as when a layer comes or goes
	for _, sl := range r.guests[videoIdx] {
		sl.repoint(r.seats[0].src[videoIdx]) // as a reconcile does
	}
	r.mu.Unlock()
	if c.coLayer() != layerMedium {
		t.Fatalf("after the other room re-pointed its guests: layer %d, want medium", c.coLayer())
	}
}
