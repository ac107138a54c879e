package sfu

import (
	"sync"
	"time"
)

// What the selector tells the edge (PROTOCOL.md §9): a subscriber hears
// rtc.quality when one of its video slots' layer changes, at most twice a
// second; a simulcast publisher hears rtc.publisherLayers when the set of its
// layers some viewer receives changes, so its encoder can stop the others.
// Both are computed under room.mu from the slots' state, on a timer that
// coalesces the changes (a switch is decided under room.mu but happens on a
// reader goroutine, on a keyframe), and handed to the edge's hooks with no
// lock held.

const (
	// qualityEvery is the least time between two rtc.quality to one
	// subscriber (the contract's "at most 2 per second").
	qualityEvery = 500 * time.Millisecond
	// noteSettle coalesces the changes of one decision (a viewer's
	// slots, a seat's viewers) into one notification.
	noteSettle = 20 * time.Millisecond
)

// SlotQuality is one slot of an rtc.quality notification, a seat slot
// (CohostIndex 0) or co-host slot CohostIndex (SeatIndex -1): Layer is
// high, medium, low, paused (the seat shows video this viewer does not
// get) or none (the seat shows no video); Reason, when set, is why the
// slot is below the best layer present: "bandwidth" or "requested".
type SlotQuality struct {
	SeatIndex   int
	CohostIndex int
	Layer       string
	Reason      string
}

// LayerSet is an rtc.publisherLayers notification: which layers at least
// one viewer receives.
type LayerSet struct{ High, Medium, Low bool }

// PeerOption configures a publish or subscribe connection.
type PeerOption func(*peerHooks)

type peerHooks struct {
	onQuality func([]SlotQuality)
	onLayers  func(LayerSet)
	noProbe   bool // probe.go
}

// OnQuality is called (never concurrently, with no lock held) with a
// subscriber's slots whose layer changed. It must not block.
func OnQuality(f func([]SlotQuality)) PeerOption {
	return func(h *peerHooks) { h.onQuality = f }
}

// OnPublisherLayers is called (never concurrently, with no lock held) when
// the set of a simulcast publisher's layers that viewers receive changes.
// It must not block.
func OnPublisherLayers(f func(LayerSet)) PeerOption {
	return func(h *peerHooks) { h.onLayers = f }
}

// newCoalescer is a coalescer running run (none when nil) for peer.
func newCoalescer(peer *Peer, every time.Duration, run func()) *coalescer {
	return &coalescer{every: every, settle: noteSettle, peer: peer, run: run}
}

func hooksOf(opts []PeerOption) peerHooks {
	var h peerHooks
	for _, o := range opts {
		o(&h)
	}
	return h
}

// coalescer runs a peer-owned callback at most once per interval after
// the first mark since it last ran, on a time.AfterFunc: no goroutine of
// its own while idle, none after stop.
type coalescer struct {
	mu      sync.Mutex
	every   time.Duration // least time between two runs
	settle  time.Duration // least time from the first mark to the run
	timer   *time.Timer
	last    time.Time
	stopped bool
	peer    *Peer
	run     func()
}

func (c *coalescer) mark() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped || c.timer != nil || c.run == nil {
		return
	}
	wait := max(time.Until(c.last.Add(c.every)), c.settle)
	c.timer = time.AfterFunc(wait, c.fire)
}

func (c *coalescer) fire() {
	c.mu.Lock()
	c.timer = nil
	c.last = time.Now()
	stopped := c.stopped
	c.mu.Unlock()
	if stopped || c.peer == nil || !c.peer.enter() {
		return
	}
	defer c.peer.exit()
	c.run()
}

func (c *coalescer) stop() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
}

// slotQualityAt is a slot's reported state.
type slotQualityAt struct {
	layer, reason string
}

// qualityChanged notes that one of v's slots may show another layer.
// Safe from any goroutine.
func (v *viewer) qualityChanged() { v.quality.mark() }

// reportQuality sends the slots whose layer changed since the last report.
func (v *viewer) reportQuality() {
	r := v.room
	r.mu.Lock()
	var out []SlotQuality
	for _, sl := range v.slots {
		if sl.kind == videoIdx && sl.cohost == 0 {
			out = sl.noteQuality(out, r.seats[sl.seatIdx].src[videoIdx])
		}
	}
	r.mu.Unlock()
	out = v.cohostQuality(out) // cohost_adapt.go: under other rooms' locks
	if len(out) > 0 {
		v.hooks.onQuality(out)
	}
}

// noteQuality appends the slot to out when what it carries while its seat
// shows seatSrc is not what the viewer was last told. Called with the lock
// that guards the slot's selection held.
func (sl *slot) noteQuality(out []SlotQuality, seatSrc *source) []SlotQuality {
	q := sl.qualityNow(seatSrc)
	if q == sl.sentQuality {
		return out
	}
	sl.sentQuality = q
	return append(out, SlotQuality{SeatIndex: sl.seatIdx, CohostIndex: sl.cohost, Layer: q.layer, Reason: q.reason})
}

// qualityNow is what the slot carries while its seat shows seatSrc.
// Called with room.mu held.
func (sl *slot) qualityNow(seatSrc *source) slotQualityAt {
	if seatSrc == nil || seatSrc.pub.user == sl.viewer.user {
		return slotQualityAt{layer: "none"}
	}
	reason := "requested"
	if sl.capLayer < sl.want {
		reason = "bandwidth"
	}
	b := sl.binding.Load()
	if b == nil {
		return slotQualityAt{layer: "paused", reason: reason}
	}
	q := slotQualityAt{layer: layerNames[b.src.layer]}
	best := layerHigh
	if g := b.src.sim; g != nil {
		best = g.pick(layerHigh).layer
	}
	if b.src.layer < best {
		q.reason = reason
	}
	return q
}

// layersChanged notes that the set of p's layers viewers receive may have
// changed. Safe from any goroutine.
func (p *publisher) layersChanged() { p.layers.mark() }

// reportLayers tells a simulcast publisher which of its layers viewers
// receive (bound, or waited for by a pending switch), or want when it is
// absent, when that changed.
//
// Absent: a layer the offer declared but whose packets have not come — it
// had not started when the publisher heard nobody watched, so the
// publisher stopped it. A viewer asking for it is carried on the nearest
// present layer (simulcast.pick), so no binding would ever name it, and
// the publisher would never start it again; it counts as wanted until it
// arrives, and then the slot switches to it as to any layer.
func (p *publisher) reportLayers() {
	r := p.room
	r.mu.Lock()
	g := p.sim
	var in [numLayers]bool
	if primary := p.sources[videoIdx]; g != nil && primary != nil && primary.seatIdx >= 0 && !r.ended {
		own := r.seats[primary.seatIdx].slots[videoIdx]
		slots := own
		if primary.seatIdx == 0 {
			// Other rooms' viewers watch the owner too (co-host slots).
			slots = append(own[:len(own):len(own)], r.guests[videoIdx]...)
		}
		for _, sl := range slots {
			for _, b := range []*binding{sl.binding.Load(), sl.pending.Load()} {
				if b != nil && b.src.sim == g {
					in[b.src.layer] = true
				}
			}
		}
		// This room's slots only: a co-host slot's want is guarded by
		// its own room's lock (cohost_adapt.go). Not the publisher's own:
		// its slot on its own seat carries nothing (slot.desired).
		for _, sl := range own {
			if sl.viewer.user == p.user {
				continue
			}
			if w := min(sl.want, sl.capLayer); w >= 0 && g.layers[w] == nil && p.declared[w] {
				in[w] = true
			}
		}
	}
	set := LayerSet{Low: in[layerLow], Medium: in[layerMedium], High: in[layerHigh]}
	changed := g != nil && set != p.layersSent
	if changed {
		p.layersSent = set
	}
	r.mu.Unlock()
	if changed {
		p.hooks.onLayers(set)
	}
}
