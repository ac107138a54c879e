package sfu

import (
	"fmt"
	"time"

	"github.com/seatsfu/seatsfu/seat"
)

// The layer selector (PROTOCOL.md §9): per viewer, per video slot, which
// layer of the seat's simulcast video the slot carries. The most it may
// carry is the lower of what the viewer asked for (want, rtc.setQuality)
// and what its share of bandwidth allows (capLayer, the allocator); the
// layer is the highest present at or below that.
//
// Starting, stopping or changing publishers happens at once (bind): the
// slot starts on the new source's cached keyframe (pace.go). A change of
// layer within one simulcast video does not: the slot keeps forwarding its
// layer and records the switch as pending; the target layer's reader,
// which offers every packet to every slot of the seat, promotes the
// pending binding on the target's first keyframe packet (promote). The
// writer sees a new binding, re-bases its Rewriter on the new SSRC —
// sequence numbers continue at +1, timestamps at the wall-clock gap — and,
// the packet being a keyframe, forwards it at once. So a switch costs the
// viewer no frozen frame and no renegotiation, and the slot's SSRC never
// changes. A keyframe is requested from the target when the switch is
// decided (coalesced per layer by its own throttle).

// desired is the source the slot should carry while the seat shows src
// (nil: nothing). Called with room.mu held.
func (sl *slot) desired(src *source) *source {
	if src == nil || src.pub.user == sl.viewer.user {
		return nil
	}
	if sl.kind != videoIdx {
		return src
	}
	max := min(sl.want, sl.capLayer)
	if max < 0 {
		return nil
	}
	if src.sim == nil {
		return src
	}
	return src.sim.pick(max)
}

// reselectSeat re-runs the selection of every video slot of seat k (a
// layer came or went), other rooms' co-host slots on the owner's seat
// included. Called with room.mu held.
func (r *Room) reselectSeat(k int) {
	src := r.seats[k].src[videoIdx]
	for _, sl := range r.seats[k].slots[videoIdx] {
		sl.reselect(src)
	}
	if k == 0 {
		for _, sl := range r.guests[videoIdx] {
			sl.reselect(src)
		}
	}
}

// reselect moves the slot towards what it should carry while the seat
// shows seatSrc: at once when it starts, stops or changes videos, on the
// target's next keyframe when it changes layers of the same video. Called
// with room.mu held.
func (sl *slot) reselect(seatSrc *source) {
	target := sl.desired(seatSrc)
	cur := sl.binding.Load()
	switch {
	case cur == nil && target == nil, cur != nil && cur.src == target:
		sl.pending.Store(nil)
	case cur == nil || target == nil || cur.src.sim == nil || cur.src.sim != target.sim:
		sl.bind(target)
	default:
		if p := sl.pending.Load(); p != nil && p.src == target && p.from == cur {
			return // already waiting for that keyframe
		}
		sl.pending.Store(&binding{src: target, from: cur, asked: time.Since(monoEpoch)})
		target.requestKeyframe()
		target.pub.layersChanged() // the target counts as received: its encoder must run
	}
	sl.notePaused(seatSrc)
	sl.viewer.qualityChanged()
	if seatSrc != nil && seatSrc.sim != nil {
		seatSrc.pub.layersChanged() // what it wants may be a layer not yet come (reportLayers)
	}
}

// promote is the hot path's side of a pending switch: src's packet pk is a
// keyframe of the layer the slot waits for, so the slot carries src from
// this packet on. It returns the new binding, or nil when pk does not
// switch the slot. Called by src's reader.
func (sl *slot) promote(src *source, pk *packet) *binding {
	p := sl.pending.Load()
	if p == nil || p.src != src {
		return nil
	}
	if !pk.keyframe {
		p.askAgain(src)
		return nil
	}
	// from: only if the slot still carries what the switch was decided
	// on; a bind since (a seat change, a pause) made this switch stale.
	if !sl.binding.CompareAndSwap(p.from, p) {
		return nil
	}
	sl.pending.CompareAndSwap(p, nil)
	sl.dropping.Store(false)
	m := src.pub.room.s.m
	if p.from != nil && p.from.src.layer > src.layer {
		m.layerSwitches[switchDown].Inc()
	} else {
		m.layerSwitches[switchUp].Inc()
	}
	sl.viewer.qualityChanged()
	src.pub.layersChanged()
	return p
}

// switchRetry is how long a pending switch waits for its target's
// keyframe before asking again. One request is not enough: the node's
// keyframe budget may refuse it (overload.go), or the publisher may not
// answer it, and the slot would stay on its old layer for good (the
// demo's Chromium test caught a phone's tile on medium 20 s after it
// asked for low, the owner sending both).
const switchRetry = 2 * keyframeInterval

// askAgain asks the target of a pending switch for a keyframe again when
// the last request is switchRetry old (requestKeyframe coalesces it with
// any other). Called by src's reader, on a packet of src that is not one.
func (p *binding) askAgain(src *source) {
	if now := time.Since(monoEpoch); now-p.asked >= switchRetry {
		p.asked = now
		src.requestKeyframe()
	}
}

// notePaused keeps paused_slots: a video slot whose seat shows video this
// viewer does not get (it asked for off, or its bandwidth share does not
// fit the lowest layer). Called with room.mu held.
func (sl *slot) notePaused(seatSrc *source) {
	paused := sl.kind == videoIdx && seatSrc != nil && seatSrc.pub.user != sl.viewer.user && min(sl.want, sl.capLayer) < 0
	if paused == sl.paused {
		return
	}
	sl.paused = paused
	g := sl.viewer.room.s.m.pausedSlots
	if paused {
		g.Inc()
	} else {
		g.Dec()
	}
}

// Quality is what rtc.setQuality asks for.
type Quality string

const (
	QualityHigh   Quality = "high"
	QualityMedium Quality = "medium"
	QualityLow    Quality = "low"
	QualityOff    Quality = "off"
)

// ErrBadQuality is returned for a quality that is not one of the four.
var ErrBadQuality = fmt.Errorf("sfu: quality must be high, medium, low or off: %w", seat.ErrInvalidParams)

func layerOfQuality(q Quality) (int, bool) {
	switch q {
	case QualityHigh:
		return layerHigh, true
	case QualityMedium:
		return layerMedium, true
	case QualityLow:
		return layerLow, true
	case QualityOff:
		return layerOff, true
	}
	return 0, false
}

// SetQuality sets the most this subscriber wants of seat seatIndex's video
// (rtc.setQuality): off pauses that slot's video for this viewer only. It
// applies to the viewer's video slots carrying that seat (none: nothing to
// do, not an error). Errors: a publish connection, a bad quality, a seat
// index outside the room.
func (p *Peer) SetQuality(seatIndex int, q Quality) error {
	v := p.viewer
	if v == nil {
		return fmt.Errorf("sfu: not a subscribe connection: %w", seat.ErrInvalidParams)
	}
	want, ok := layerOfQuality(q)
	if !ok {
		return ErrBadQuality
	}
	r := v.room
	if seatIndex < 0 || seatIndex >= r.maxSeats {
		return seat.ErrSeatIndexInvalid
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return ErrRoomEnded
	}
	if _, live := r.viewers[v]; !live {
		return nil // the subscription is closing: nothing left to select for
	}
	for _, sl := range v.slots {
		if sl.kind == videoIdx && sl.seatIdx == seatIndex && sl.want != want {
			sl.want = want
			sl.reselect(r.seats[seatIndex].src[videoIdx])
		}
	}
	return nil
}
