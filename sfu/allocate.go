package sfu

import (
	"time"
)

// The allocator (PROTOCOL.md §9) shares one subscriber's estimated
// downlink among its slots: all audio first, then seat 0's video, then the
// other seats' in index order. Each video slot gets the highest layer, not
// above what the viewer asked for, whose measured bitrate fits what is
// left; a slot whose lowest layer does not fit pauses (audio continues)
// until it fits again. The result is the slot's capLayer; the selector
// (selector.go) does the switching, on keyframes.
//
// A paused slot is resumed on trial (its lowest layer, budget or not) once
// the hold is over: without probing, the estimate cannot rise above what
// is sent.
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

// allocate runs one round for v with its current estimate.
func (v *viewer) allocate() {
	est := v.estimate.Load()
	if est <= 0 {
		return
	}
	r := v.room
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, live := r.viewers[v]; r.ended || !live {
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
	budget := float64(est)
	for _, sl := range v.slots {
		if b := sl.binding.Load(); sl.kind == audioIdx && b != nil {
			budget -= float64(rateOf(b.src))
		}
	}
	mayUpgrade := !now.Before(st.upgradeAt)
	down, up := false, false
	for _, sl := range v.slots { // in seat order: seat 0 first
		if sl.kind != videoIdx || sl.cohost > 0 {
			continue // co-host slots are not adapted yet (their source is another room's)
		}
		seatSrc := r.seats[sl.seatIdx].src[videoIdx]
		if seatSrc == nil || seatSrc.pub.user == v.user || sl.want < 0 {
			continue
		}
		cur := layerOff
		if b := sl.binding.Load(); b != nil {
			cur = b.src.layer
		}
		capLayer := layerOff
		lowest := layerOff
		for l := sl.want; l >= 0; l-- {
			if layerSource(seatSrc, l, sl.want) != nil {
				lowest = l
			}
		}
		for l := sl.want; l >= 0; l-- {
			src := layerSource(seatSrc, l, sl.want)
			if src == nil {
				continue
			}
			cost := float64(rateOf(src))
			if l > cur && !(mayUpgrade && !up) {
				continue // no upgrade (nor resume) now: look lower
			}
			need := cost
			if l > cur {
				need *= upgradeHeadroom
			}
			if need <= budget {
				capLayer, budget = l, budget-cost
				break
			}
		}
		if capLayer == layerOff && cur == layerOff && lowest != layerOff && mayUpgrade && !up {
			// A trial: with no probing, a paused slot's cost cannot show
			// in the estimate until it is sent. Resume its lowest layer
			// once the hold is over; congestion pauses it again and
			// doubles the hold.
			capLayer = lowest
			budget -= float64(rateOf(layerSource(seatSrc, lowest, sl.want)))
		}
		if capLayer == sl.capLayer {
			continue
		}
		if capLayer < sl.capLayer {
			down = true
		} else {
			up = true
		}
		sl.capLayer = capLayer
		sl.reselect(seatSrc)
	}
	if up {
		st.lastUpgrade = now
	}
	if down {
		if now.Sub(st.lastUpgrade) < upgradeTrial {
			st.hold = min(2*st.hold, upgradeHoldMax)
		}
		st.lastDown = now
		st.upgradeAt = now.Add(st.hold)
	}
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
