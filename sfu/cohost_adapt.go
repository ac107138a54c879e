package sfu

import (
	"fmt"

	"github.com/seatsfu/seatsfu/seat"
)

// Layer selection on co-host slots (PROTOCOL.md §9, §10). A co-host slot
// is a guest of another room's seat 0, so the selection state it shares
// with that seat's machinery (want, capLayer, paused, read by the other
// room's reconcile) is guarded like a seat slot's, by the mu of the room
// it is a guest of. Whoever changes it from this side — rtc.setQuality,
// the allocator, the quality report — finds that room through the co-host
// link, under the lock order at SFU.mu: coMu first (it keeps slot.host
// still), then that room's mu, one room at a time. A slot that is nobody's
// guest is guarded by coMu alone; guestOf moves it between rooms under
// coMu, dropping it under the old room's mu before adding it under the new
// one's, so each room sees the other's writes.

// ErrCohostIndexInvalid is returned for a co-host slot index outside
// 1..MaxCohosts-1.
var ErrCohostIndexInvalid = fmt.Errorf("sfu: cohostIndex out of range: %w", seat.ErrInvalidParams)

// SetCohostQuality is SetQuality for co-host slot k (rtc.setQuality
// {cohostIndex}): the most this subscriber wants of the video of the room
// that slot carries, now and after the connection changes. No such slot
// in the subscription: nothing to do, not an error.
func (p *Peer) SetCohostQuality(k int, q Quality) error {
	v := p.viewer
	if v == nil {
		return fmt.Errorf("sfu: not a subscribe connection: %w", seat.ErrInvalidParams)
	}
	want, ok := layerOfQuality(q)
	if !ok {
		return ErrBadQuality
	}
	r := v.room
	if k < 1 || k >= r.s.MaxCohosts() {
		return ErrCohostIndexInvalid
	}
	r.s.coMu.Lock()
	defer r.s.coMu.Unlock()
	r.mu.Lock()
	ended := r.ended
	r.mu.Unlock()
	if ended {
		return ErrRoomEnded
	}
	if v.coGone {
		return nil // the subscription is closing
	}
	for _, sl := range v.slots {
		if sl.kind != videoIdx || sl.cohost != k || sl.want == want {
			continue
		}
		sl.underHost(func(seatSrc *source) {
			sl.want = want
			if sl.host != nil {
				sl.reselect(seatSrc)
			}
		})
	}
	return nil
}

// cohostQuality appends v's co-host video slots whose layer changed since
// the last report. Called with no room's lock held.
func (v *viewer) cohostQuality(out []SlotQuality) []SlotQuality {
	if !v.hasCohostSlots() {
		return out
	}
	s := v.room.s
	s.coMu.Lock()
	defer s.coMu.Unlock()
	for _, sl := range v.slots {
		if sl.kind == videoIdx && sl.cohost > 0 {
			sl.underHost(func(seatSrc *source) { out = sl.noteQuality(out, seatSrc) })
		}
	}
	return out
}

// allocateCohost fits v's co-host video slots into what is left of the
// round, in slot order. Called with coMu held and no room's mu.
func (v *viewer) allocateCohost(a *allocRound) {
	for _, sl := range v.slots {
		if sl.kind == videoIdx && sl.cohost > 0 && sl.host != nil {
			sl.underHost(func(seatSrc *source) { a.fit(sl, seatSrc) })
		}
	}
}

// underHost runs f with the lock guarding the co-host slot's selection
// held and the video the slot's room shows on seat 0 (nil: none, or the
// slot carries no room). Called with coMu held.
func (sl *slot) underHost(f func(seatSrc *source)) {
	host := sl.host
	if host == nil {
		f(nil)
		return
	}
	host.mu.Lock()
	defer host.mu.Unlock()
	var src *source
	if !host.ended {
		src = host.seats[0].src[sl.kind]
	}
	f(src)
}
