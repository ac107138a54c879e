package sfu

import (
	"time"
)

// The allocator (PROTOCOL.md §9) shares one subscriber's estimated
// downlink among its slots: all audio first, then seat 0's video, the
// co-host slots' (other rooms' owners, PROTOCOL.md §10), then the other
// seats' in index order. Each video slot gets the highest layer, not
// above what the viewer asked for, whose measured bitrate fits what is
// left; a slot whose lowest layer does not fit pauses (audio continues)
// until it fits again. The result is the slot's capLayer; the selector
// (selector.go) does the switching, on keyframes.
//
// When the round leaves a slot below what its viewer asked for, the
// allocator tells the prober what the viewer's slots would use (probe.go):
// a delivered probe raises the estimate, and the next round upgrades. A
// paused slot is also resumed on trial (its lowest layer, budget or not)
// once the hold is over, for viewers the prober cannot serve (no RTX) and
// for when its budget is spent.
//
// Hysteresis, so a viewer near a layer's edge does not flap: a slot keeps
// its layer while it fits, but moves up only with upgradeHeadroom to
// spare, one step per round, and not within upgradeHold of a downgrade —
// a hold that doubles (to upgradeHoldMax) each time an upgrade is followed
// by a downgrade within upgradeTrial, and resets after a quiet
// upgradeHoldMax. Rounds run at most every allocEvery, on new feedback.
const (
	allocEvery      = 500 * time.Millisecond
	upgradeHeadroom = 1.1
	upgradeHoldMin  = time.Second
	upgradeHoldMax  = 4 * time.Second
	upgradeTrial    = 5 * time.Second
)

// Bitrates assumed for a layer not yet measured, bit/s (what browsers
// encode for 180p/360p/720p).
var nominalLayerRate = [numLayers]int64{150_000, 500_000, 1_500_000}

// nominalAudioRate is assumed for an audio source not yet measured.
const nominalAudioRate = 40_000

// allocState is a viewer's allocator memory; guarded by room.mu.
type allocState struct {
	// probeSeen is the probe verdict (probeState.deliveredAt) the last
	// round saw; probed: the estimate is backed by a delivered probe and
	// no downgrade since.
	probeSeen   int64
	probedBps   int64
	probed      bool
	hold        time.Duration
	upgradeAt   time.Time // no upgrade before
	lastUpgrade time.Time
	lastDown    time.Time
}

// rateOf is src's measured bitrate, else the nominal one of its layer.
func rateOf(src *source) int64 {
	if r := src.bitrate.Load(); r > 0 {
		return r
	}
	if src.kind == audioIdx {
		return nominalAudioRate
	}
	return nominalLayerRate[src.layer]
}

// allocate runs one round for v with its current estimate. Co-host slots
// (PROTOCOL.md §10) carry other rooms' owners: they come right after seat
// 0 — each is an owner, as seat 0 is — and are fitted under their room's
// lock (the lock order at SFU.mu: coMu, then one room's mu at a time).
func (v *viewer) allocate() {
	est := v.estimate.Load()
	if est <= 0 {
		return
	}
	r := v.room
	co := v.hasCohostSlots()
	if co {
		r.s.coMu.Lock()
		defer r.s.coMu.Unlock()
	}
	now := time.Now()
	r.mu.Lock()
	if _, live := r.viewers[v]; r.ended || !live {
		r.mu.Unlock()
		return // a round that raced the viewer's detach
	}
	r.s.m.subscriberBandwidth.Observe(float64(est))
	st := &v.budget
	if st.hold == 0 {
		st.hold = upgradeHoldMin
	}
	if !st.lastDown.IsZero() && now.Sub(st.lastDown) > upgradeHoldMax {
		st.hold = upgradeHoldMin
	}
	if p := v.probe.deliveredAt.Load(); p != st.probeSeen {
		// A probe proved the estimate since the last round: the hold
		// guards against upgrading by trial and error, and this upgrade
		// is not a trial. Every slot may move up what fits, at once.
		st.probeSeen, st.probedBps = p, v.probe.deliveredBps.Load()
		st.hold, st.upgradeAt = upgradeHoldMin, now
		st.probed = true
	}
	// Proven: only as far as the probe went; growth past it is unproven.
	proven := st.probed && est <= st.probedBps
	a := allocRound{budget: float64(est), mayUpgrade: !now.Before(st.upgradeAt), proven: proven}
	for _, sl := range v.slots {
		if b := sl.binding.Load(); sl.kind == audioIdx && b != nil {
			a.budget -= float64(rateOf(b.src))
			a.wanted += float64(rateOf(b.src))
		}
	}
	seatVideo := func(first bool) {
		for _, sl := range v.slots { // in seat order
			if sl.kind == videoIdx && sl.cohost == 0 && (sl.seatIdx == 0) == first {
				a.fit(sl, r.seats[sl.seatIdx].src[videoIdx])
			}
		}
	}
	seatVideo(true)
	if co {
		r.mu.Unlock()
		v.allocateCohost(&a) // cohost_adapt.go
		r.mu.Lock()
		if _, live := r.viewers[v]; r.ended || !live {
			r.mu.Unlock()
			return
		}
	}
	seatVideo(false)
	if a.up {
		st.lastUpgrade = now
	}
	if a.down {
		st.probed = false // the proof is spent: the link changed
		if now.Sub(st.lastUpgrade) < upgradeTrial {
			st.hold = min(2*st.hold, upgradeHoldMax)
		}
		st.lastDown = now
		st.upgradeAt = now.Add(st.hold)
	}
	r.mu.Unlock()
	probe := int64(0)
	if a.short {
		// Enough for the upgrades, with the headroom they need.
		probe = int64(a.wanted * upgradeHeadroom)
	}
	v.wantProbe(probe, now)
}

// allocRound is one allocation round's progress through a viewer's slots.
type allocRound struct {
	budget     float64 // bit/s not yet given out
	mayUpgrade bool    // the hold after a downgrade is over
	proven     bool    // a delivered probe backs the estimate: several slots may move up
	up, down   bool    // a slot moved up (at most one a round) or down
	// wanted is what the slots would use at the layers their viewer
	// asked for (bit/s); short: a slot was given less.
	wanted float64
	short  bool
}

// mayMoveUp: a slot may move up (or resume) now — the hold is over and,
// unless a probe proved the estimate, no other slot moved up this round.
func (a *allocRound) mayMoveUp() bool {
	return a.mayUpgrade && (a.proven || !a.up)
}

// fit gives sl the highest layer of seatSrc that fits what is left.
// Called with the lock guarding sl's selection held: its room's mu, or
// for a co-host slot the mu of the room it is a guest of.
func (a *allocRound) fit(sl *slot, seatSrc *source) {
	if seatSrc == nil || seatSrc.pub.user == sl.viewer.user || sl.want < 0 {
		return
	}
	cur := layerOff
	if b := sl.binding.Load(); b != nil {
		cur = b.src.layer
	}
	capLayer := layerOff
	lowest := layerOff
	top := layerOff
	for l := sl.want; l >= 0; l-- {
		if src := layerSource(seatSrc, l, sl.want); src != nil {
			lowest = l
			if top == layerOff {
				top = l
				a.wanted += float64(rateOf(src))
			}
		}
	}
	for l := sl.want; l >= 0; l-- {
		src := layerSource(seatSrc, l, sl.want)
		if src == nil {
			continue
		}
		cost := float64(rateOf(src))
		if l > cur && !a.mayMoveUp() {
			continue // no upgrade (nor resume) now: look lower
		}
		need := cost
		if l > cur {
			need *= upgradeHeadroom
		}
		if need <= a.budget {
			capLayer, a.budget = l, a.budget-cost
			break
		}
	}
	if capLayer == layerOff && cur == layerOff && lowest != layerOff && a.mayMoveUp() {
		// A trial: unprobed, a paused slot's cost cannot show in the
		// estimate until it is sent. Resume its lowest layer
		// once the hold is over; congestion pauses it again and
		// doubles the hold.
		capLayer = lowest
		a.budget -= float64(rateOf(layerSource(seatSrc, lowest, sl.want)))
	}
	if capLayer < top {
		a.short = true
	}
	if capLayer == sl.capLayer {
		return
	}
	if capLayer < sl.capLayer {
		a.down = true
	} else {
		a.up = true
	}
	sl.capLayer = capLayer
	sl.reselect(seatSrc)
}

// layerSource is the source a slot would carry at layer l of the seat's
// video: the layer itself for simulcast; for a single encoding, the one
// source as the slot's best layer (it is all there is).
func layerSource(seatSrc *source, l, best int) *source {
	if g := seatSrc.sim; g != nil {
		return g.layers[l]
	}
	if l == best {
		return seatSrc
	}
	return nil
}
