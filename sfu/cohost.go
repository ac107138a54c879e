package sfu

import "fmt"

// Co-host slots (PROTOCOL.md §10, Media). A subscriber's pairs after its
// room's seats are co-host slots: slot k carries the owner (seat 0) of the
// k-th other room of the room's co-host connection. Such a slot is a guest
// of that room's seat 0: it sits in the other room's guests list beside
// that seat's own slots, so the other room's reconcile re-points it with
// them and its sources feed it — the binding/re-point machinery of seat
// slots, unchanged: no renegotiation, gating the moment the binding goes,
// a keyframe (or the cached one) to start, sender reports translated.
//
// Locks: SFU.coMu guards which room each co-host slot is a guest of
// (slot.host), each room's co-host peers and co-host viewers. It is taken
// before a room's mu, and with it held one room's mu at a time. The room's
// guests list is guarded by that room's mu, like its seats.

const defaultMaxCohosts = 4

// SetCohosts points the room's co-host slots at peers: slot k carries
// peers[k-1]'s owner; a nil peer or a k beyond them is silent. peers is
// the room's co-host connection in order, without the room itself (nil:
// no connection). When it returns no packet of a room left out reaches
// this room's viewers.
func (r *Room) SetCohosts(peers []*Room) {
	r.s.coMu.Lock()
	defer r.s.coMu.Unlock()
	r.coPeers = append([]*Room(nil), peers...)
	for v := range r.coViewers {
		for _, sl := range v.slots {
			if sl.cohost > 0 {
				sl.guestOf(r.peerAt(sl.cohost))
			}
		}
	}
}

// peerAt is the room co-host slot k carries, or nil. Called with coMu held.
func (r *Room) peerAt(k int) *Room {
	if k-1 < len(r.coPeers) {
		return r.coPeers[k-1]
	}
	return nil
}

// attachCohost makes a new viewer's co-host slots carry the room's current
// co-host peers. Called without any lock, after the viewer joined the room.
func (r *Room) attachCohost(v *viewer) {
	if !v.hasCohostSlots() {
		return
	}
	r.s.coMu.Lock()
	defer r.s.coMu.Unlock()
	if v.coGone { // its connection closed meanwhile
		return
	}
	if r.coViewers == nil {
		r.coViewers = map[*viewer]struct{}{}
	}
	r.coViewers[v] = struct{}{}
	for _, sl := range v.slots {
		if sl.cohost > 0 {
			sl.guestOf(r.peerAt(sl.cohost))
		}
	}
}

// detachCohost takes a closing viewer's co-host slots off the rooms they
// carry. Called without any lock (the peer's close).
func (r *Room) detachCohost(v *viewer) {
	if !v.hasCohostSlots() {
		return
	}
	r.s.coMu.Lock()
	defer r.s.coMu.Unlock()
	v.coGone = true
	delete(r.coViewers, v)
	for _, sl := range v.slots {
		if sl.cohost > 0 {
			sl.guestOf(nil)
		}
	}
}

// guestOf moves a co-host slot to host's seat 0 (nil: nowhere). Called
// with coMu held.
func (sl *slot) guestOf(host *Room) {
	if sl.host == host {
		return
	}
	if old := sl.host; old != nil {
		old.dropGuest(sl)
	}
	sl.host = host
	if host != nil {
		host.addGuest(sl)
	}
}

func (r *Room) addGuest(sl *slot) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return // its owner sends nothing any more; the slot stays silent
	}
	r.guests[sl.kind] = append(append([]*slot(nil), r.guests[sl.kind]...), sl)
	src := r.seats[0].src[sl.kind]
	sl.repoint(src)
	if src != nil {
		r.refreshSinks(src)
	}
}

func (r *Room) dropGuest(sl *slot) {
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := make([]*slot, 0, len(r.guests[sl.kind]))
	for _, o := range r.guests[sl.kind] {
		if o != sl {
			kept = append(kept, o)
		}
	}
	r.guests[sl.kind] = kept
	sl.repoint(nil)
	if src := r.seats[0].src[sl.kind]; src != nil {
		r.refreshSinks(src)
	}
}

func (v *viewer) hasCohostSlots() bool {
	for _, sl := range v.slots {
		if sl.cohost > 0 {
			return true
		}
	}
	return false
}

// cohostSlotOf says which co-host slot the idx-th pair of a subscription
// is: 0 for a seat slot, k ≥ 1 for co-host slot k, -1 beyond them.
func (r *Room) cohostSlotOf(idx int) int {
	switch k := idx - r.maxSeats + 1; {
	case k <= 0:
		return 0
	case k < r.s.MaxCohosts():
		return k
	}
	return -1
}

// MaxCohosts is the most rooms of a co-host connection the subscriptions
// are sized for.
func (s *SFU) MaxCohosts() int {
	if s.cfg.MaxCohosts == 0 {
		return defaultMaxCohosts
	}
	return s.cfg.MaxCohosts
}

func (s *SFU) newCohostSlotTrack(kind, k int) *slotTrack {
	t := s.newSlotTrack(kind, 0)
	t.id = fmt.Sprintf("cohost%d-%s", k, kindNames[kind])
	t.streamID = fmt.Sprintf("cohost%d", k)
	return t
}
