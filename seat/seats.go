package seat

// seatState is one seat. The locks belong to the seat and outlive its
// occupants; muted and publishing belong to the occupant's stay on it.
type seatState struct {
	occupant                         *member
	locked, audioLocked, videoLocked bool
	audioMuted, videoMuted           bool
	audioPublishing, videoPublishing bool
}

func (s *seatState) device(kind Kind) Device {
	locked, muted, publishing := s.audioLocked, s.audioMuted, s.audioPublishing
	if kind == KindVideo {
		locked, muted, publishing = s.videoLocked, s.videoMuted, s.videoPublishing
	}
	switch {
	case locked:
		return DeviceClosedByAdmin
	case s.occupant != nil && !muted && publishing:
		return DeviceOn
	default:
		return DeviceOff
	}
}

func (s *seatState) view(index int) Seat {
	v := Seat{
		Index:       index,
		Locked:      s.locked,
		AudioLocked: s.audioLocked,
		VideoLocked: s.videoLocked,
		Microphone:  s.device(KindAudio),
		Camera:      s.device(KindVideo),
	}
	if s.occupant != nil {
		u := s.occupant.user
		v.User = &u
	}
	return v
}

// sameSeat compares what two seat views show.
func sameSeat(a, b Seat) bool {
	if (a.User == nil) != (b.User == nil) || (a.User != nil && *a.User != *b.User) {
		return false
	}
	a.User, b.User = nil, nil
	return a == b
}

// sit puts m on a free seat. A new occupant starts unmuted unless the seat's
// lock for a kind is set, and publishing nothing yet.
func (r *Room) sit(m *member, index int) {
	s := &r.seats[index]
	s.occupant = m
	s.audioMuted, s.videoMuted = s.audioLocked, s.videoLocked
	s.audioPublishing, s.videoPublishing = false, false
	m.seat = index
}

func (r *Room) unsit(m *member) {
	s := &r.seats[m.seat]
	s.occupant = nil
	s.audioMuted, s.videoMuted = false, false
	s.audioPublishing, s.videoPublishing = false, false
	m.seat = NoSeat
}

// seatChanged builds the one seat.changed of an operation.
func (r *Room) seatChanged(joined []SeatJoin, left []SeatLeave) Delivery {
	if joined == nil {
		joined = []SeatJoin{}
	}
	if left == nil {
		left = []SeatLeave{}
	}
	return Delivery{To: Everyone, Event: SeatChanged{Seats: r.Seats(), Joined: joined, Left: left}}
}

// checkIndex accepts what a request or seat.take may name: -1 or a guest
// seat 1..maxSeats-1.
func (r *Room) checkIndex(index int) error {
	if index == NoSeat || (index >= 1 && index < len(r.seats)) {
		return nil
	}
	return newErr(ErrSeatIndexInvalid, "seat index must be -1 or 1..%d, not %d", len(r.seats)-1, index)
}

// resolveSeat turns a requested index into a free seat (rule 1, rule 4).
func (r *Room) resolveSeat(index int) (int, error) {
	if index == NoSeat {
		for i := 1; i < len(r.seats); i++ {
			if s := &r.seats[i]; s.occupant == nil && !s.locked {
				return i, nil
			}
		}
		return 0, newErr(ErrSeatsFull, "no free unlocked seat")
	}
	switch s := &r.seats[index]; {
	case s.locked:
		return 0, newErr(ErrSeatLocked, "seat %d is locked", index)
	case s.occupant != nil:
		return 0, newErr(ErrSeatOccupied, "seat %d is taken", index)
	}
	return index, nil
}

// Take is seat.take; returns the seat taken. Owner and admins may always
// take a seat, audience only in ModeFree. A pending request of the taker
// ends with alreadySeated.
func (r *Room) Take(actor string, seatIndex int) (int, []Delivery, error) {
	m, err := r.actor(actor)
	if err != nil {
		return 0, nil, err
	}
	if !m.user.Role.IsHost() && r.cfg.Mode != ModeFree {
		return 0, nil, newErr(ErrPermission, "audience apply for a seat in this room")
	}
	if err := r.checkIndex(seatIndex); err != nil {
		return 0, nil, err
	}
	if m.seat != NoSeat {
		return 0, nil, newErr(ErrAlreadySeated, "%q already holds seat %d", actor, m.seat)
	}
	idx, err := r.resolveSeat(seatIndex)
	if err != nil {
		return 0, nil, err
	}
	r.sit(m, idx)
	out := []Delivery{r.seatChanged([]SeatJoin{{User: m.user, SeatIndex: idx}}, nil)}
	if m.request != nil {
		out = r.endRequest(out, m.request, OutcomeAlreadySeated, endDetail{})
	}
	return idx, out, nil
}

// Move is seat.move: a guest moves to a free unlocked seat 1..maxSeats-1
// (-1 is not a seat to move to). Its mute state and media go with it; the
// new seat's locks apply (a locked kind is muted).
func (r *Room) Move(actor string, seatIndex int) ([]Delivery, error) {
	m, err := r.guest(actor)
	if err != nil {
		return nil, err
	}
	if seatIndex < 1 || seatIndex >= len(r.seats) {
		return nil, newErr(ErrSeatIndexInvalid, "seat index must be 1..%d, not %d", len(r.seats)-1, seatIndex)
	}
	if _, err := r.resolveSeat(seatIndex); err != nil {
		return nil, err
	}
	old := r.seats[m.seat]
	from := m.seat
	r.unsit(m)
	r.sit(m, seatIndex)
	s := &r.seats[seatIndex]
	s.audioMuted = old.audioMuted || s.audioLocked
	s.videoMuted = old.videoMuted || s.videoLocked
	s.audioPublishing, s.videoPublishing = old.audioPublishing, old.videoPublishing
	return []Delivery{r.seatChanged(
		[]SeatJoin{{User: m.user, SeatIndex: seatIndex}},
		[]SeatLeave{{User: m.user, SeatIndex: from, Reason: LeftMoved}},
	)}, nil
}

// guest returns the actor if it is a guest: seated, and not the owner, whose
// seat 0 is fixed.
func (r *Room) guest(actor string) (*member, error) {
	m, err := r.actor(actor)
	if err != nil {
		return nil, err
	}
	if m == r.owner {
		return nil, newErr(ErrPermission, "the owner stays on seat 0")
	}
	if m.seat == NoSeat {
		return nil, newErr(ErrNotSeated, "%q holds no seat", actor)
	}
	return m, nil
}

// LeaveSeat is seat.leave (ErrNotSeated without a seat; the owner may not
// leave seat 0: ErrPermission).
func (r *Room) LeaveSeat(actor string) ([]Delivery, error) {
	m, err := r.guest(actor)
	if err != nil {
		return nil, err
	}
	left := SeatLeave{User: m.user, SeatIndex: m.seat, Reason: LeftLeft}
	r.unsit(m)
	return []Delivery{r.seatChanged(nil, []SeatLeave{left})}, nil
}

// Kick is seat.kick by a host: the target loses its seat (not the room).
// Unknown or unseated targets are ErrNotSeated; the owner is never kicked.
func (r *Room) Kick(actor, target string) ([]Delivery, error) {
	h, err := r.host(actor)
	if err != nil {
		return nil, err
	}
	t, ok := r.members[target]
	if !ok || t.seat == NoSeat {
		return nil, newErr(ErrNotSeated, "%q holds no seat", target)
	}
	return r.kick(h, t)
}

// kick takes t's seat; by is the host who acted, nil for the service.
func (r *Room) kick(by, t *member) ([]Delivery, error) {
	if t == r.owner {
		return nil, newErr(ErrPermission, "nobody kicks the owner off seat 0")
	}
	index := t.seat
	r.unsit(t)
	return []Delivery{
		{To: OneUser, UserID: t.user.UserID, Event: kickedEvent(index, by)},
		r.seatChanged(nil, []SeatLeave{{User: t.user, SeatIndex: index, Reason: LeftKicked}}),
	}, nil
}

// kickedEvent is seat.kicked from a host, or from the service when by is nil.
func kickedEvent(index int, by *member) SeatKicked {
	return SeatKicked{SeatIndex: index, By: by.userRef()}
}

// Lock is seat.lock; nil fields are left unchanged. Seat 0 cannot be locked.
// lockSeat on an occupied seat kicks its occupant first (rule 7). Setting an
// audio/video lock also mutes that kind; clearing it leaves it muted, so the
// guest must unmute (media.setMuted). A call that changes nothing sends
// nothing.
func (r *Room) Lock(actor string, seatIndex int, lockSeat, lockAudio, lockVideo *bool) ([]Delivery, error) {
	h, err := r.host(actor)
	if err != nil {
		return nil, err
	}
	return r.lock(h, seatIndex, lockSeat, lockAudio, lockVideo)
}

// lock is Lock by a host, or by the service when by is nil.
func (r *Room) lock(by *member, seatIndex int, lockSeat, lockAudio, lockVideo *bool) ([]Delivery, error) {
	if seatIndex < 1 || seatIndex >= len(r.seats) {
		return nil, newErr(ErrSeatIndexInvalid, "seat index must be 1..%d, not %d", len(r.seats)-1, seatIndex)
	}
	s := &r.seats[seatIndex]
	before := s.view(seatIndex)
	var out []Delivery
	left := []SeatLeave{}
	if lockSeat != nil {
		if *lockSeat && !s.locked && s.occupant != nil {
			t := s.occupant
			out = append(out, Delivery{To: OneUser, UserID: t.user.UserID, Event: kickedEvent(seatIndex, by)})
			left = append(left, SeatLeave{User: t.user, SeatIndex: seatIndex, Reason: LeftLocked})
			r.unsit(t)
		}
		s.locked = *lockSeat
	}
	// Muting is the occupant's state: an empty seat's next occupant starts
	// muted by sit when the lock is set.
	occupied := s.occupant != nil
	if lockAudio != nil {
		s.audioLocked = *lockAudio
		s.audioMuted = s.audioMuted || (*lockAudio && occupied)
	}
	if lockVideo != nil {
		s.videoLocked = *lockVideo
		s.videoMuted = s.videoMuted || (*lockVideo && occupied)
	}
	if sameSeat(s.view(seatIndex), before) && len(left) == 0 {
		return nil, nil
	}
	return append(out, r.seatChanged(nil, left)), nil
}

// SetMuted is media.setMuted for the actor's own seat. Unmuting a kind whose
// lock is set is refused with ErrPermission.
func (r *Room) SetMuted(actor string, kind Kind, muted bool) ([]Delivery, error) {
	m, err := r.actor(actor)
	if err != nil {
		return nil, err
	}
	if kind != KindAudio && kind != KindVideo {
		return nil, newErr(ErrInvalidParams, "kind must be audio or video, not %q", kind)
	}
	if m.seat == NoSeat {
		return nil, newErr(ErrNotSeated, "%q holds no seat", actor)
	}
	s := &r.seats[m.seat]
	if kind == KindAudio {
		if !muted && s.audioLocked {
			return nil, newErr(ErrPermission, "a host locked this seat's audio")
		}
		return r.changeSeatView(m, func() { s.audioMuted = muted }), nil
	}
	if !muted && s.videoLocked {
		return nil, newErr(ErrPermission, "a host locked this seat's video")
	}
	return r.changeSeatView(m, func() { s.videoMuted = muted }), nil
}

// SetPublishing is reported by the media layer when a seated user's track of
// a kind starts or stops arriving. It only changes what microphone/camera
// show ("on" needs: seated, not locked, not muted, publishing). Unknown or
// unseated users are ignored (nil, nil).
func (r *Room) SetPublishing(userID string, kind Kind, publishing bool) ([]Delivery, error) {
	if r.ended {
		return nil, newErr(ErrRoomNotFound, "the room has ended")
	}
	if kind != KindAudio && kind != KindVideo {
		return nil, newErr(ErrInvalidParams, "kind must be audio or video, not %q", kind)
	}
	m, ok := r.members[userID]
	if !ok || m.seat == NoSeat {
		return nil, nil
	}
	s := &r.seats[m.seat]
	return r.changeSeatView(m, func() {
		if kind == KindAudio {
			s.audioPublishing = publishing
		} else {
			s.videoPublishing = publishing
		}
	}), nil
}

// stopPublishing clears m's publishing flags (a dropped or resumed
// connection publishes nothing until it publishes again).
func (r *Room) stopPublishing(out []Delivery, m *member) []Delivery {
	if m.seat == NoSeat {
		return out
	}
	s := &r.seats[m.seat]
	return append(out, r.changeSeatView(m, func() { s.audioPublishing, s.videoPublishing = false, false })...)
}

// changeSeatView applies change to m's seat and sends seat.changed only if
// what the seat shows changed.
func (r *Room) changeSeatView(m *member, change func()) []Delivery {
	before := r.seats[m.seat].view(m.seat)
	change()
	if sameSeat(r.seats[m.seat].view(m.seat), before) {
		return nil
	}
	return []Delivery{r.seatChanged(nil, nil)}
}

// --- queries for the media layer and the edge ---

// SeatOf returns the user's seat index, or NoSeat.
func (r *Room) SeatOf(userID string) int {
	if m, ok := r.members[userID]; ok {
		return m.seat
	}
	return NoSeat
}

// Seats returns a copy of every seat.
func (r *Room) Seats() []Seat {
	out := make([]Seat, len(r.seats))
	for i := range r.seats {
		out[i] = r.seats[i].view(i)
	}
	return out
}

// Allowed says who sits on a seat and whether each kind of their media may
// be forwarded now (seated, kind not locked, not muted) — regardless of
// whether they publish. The media layer gates forwarding on it.
func (r *Room) Allowed(index int) (userID string, audio, video bool) {
	if index < 0 || index >= len(r.seats) || r.seats[index].occupant == nil {
		return "", false, false
	}
	s := &r.seats[index]
	return s.occupant.user.UserID, !s.audioLocked && !s.audioMuted, !s.videoLocked && !s.videoMuted
}
