package seat

// The app's backend acts on a room through the server API (PROTOCOL.md §11)
// as "the service": it is no member, outranks every role but may not remove
// the owner, and the notifications it causes name nobody (by: null).
//
// Decisions where the contract leaves room:
//   - A role the service grants is remembered by user id for the room's
//     life: it survives the grace, a leave and a rejoin with a token of
//     another role. The owner's role never changes.
//   - A demoted admin's pending invitations stay valid; it just sends no
//     new ones.
//   - Chat mutes are by user id too, member or not, so a backend can mute a
//     user before it joins.
//   - Lifting a ban that does not exist is reported (false), so the API can
//     answer 404.

// RoleChanged goes to everyone when the service changes a member's role.
type RoleChanged struct {
	User User
}

// userRef is who acted, as events name it: nil for the service.
func (m *member) userRef() *User {
	if m == nil {
		return nil
	}
	u := m.user
	return &u
}

// Owner returns the owner as a member.
func (r *Room) Owner() User { return r.owner.user }

// target finds the member the service acts on, by actor's rule:
// ErrRoomNotFound once the room has ended, ErrNotJoined for a stranger.
func (r *Room) target(userID string) (*member, error) { return r.actor(userID) }

// SetRole makes a member an admin or audience. A seated member's seat shows
// the new role, so a seat.changed follows room.roleChanged. Setting the role
// it has changes nothing and sends nothing.
func (r *Room) SetRole(userID string, role Role) ([]Delivery, error) {
	if role != RoleAdmin && role != RoleAudience {
		return nil, newErr(ErrInvalidParams, "role must be admin or audience, not %q", role)
	}
	m, err := r.target(userID)
	if err != nil {
		return nil, err
	}
	if m == r.owner {
		return nil, newErr(ErrPermission, "the owner's role never changes")
	}
	r.roles[userID] = role
	if m.user.Role == role {
		return nil, nil
	}
	out := []Delivery{}
	change := func() { m.user.Role = role }
	if m.seat == NoSeat {
		change()
	} else {
		out = append(out, r.changeSeatView(m, change)...)
	}
	return append([]Delivery{{To: Everyone, Event: RoleChanged{User: m.user}}}, out...), nil
}

// Unban lets a kicked-out user join again; false when it was not banned.
func (r *Room) Unban(userID string) (bool, error) {
	if r.ended {
		return false, newErr(ErrRoomNotFound, "the room has ended")
	}
	_, banned := r.banned[userID]
	delete(r.banned, userID)
	return banned, nil
}

// SetChatMuted mutes or unmutes a user's room.sendMessage.
func (r *Room) SetChatMuted(userID string, muted bool) error {
	if r.ended {
		return newErr(ErrRoomNotFound, "the room has ended")
	}
	if muted {
		r.chatMuted[userID] = struct{}{}
	} else {
		delete(r.chatMuted, userID)
	}
	return nil
}

// ChatMuted reports whether the service muted the user's chat.
func (r *Room) ChatMuted(userID string) bool {
	_, muted := r.chatMuted[userID]
	return muted
}

// ServiceKickOut removes a member; with ban it may not come back until
// Unban. Nobody removes the owner (ErrPermission).
func (r *Room) ServiceKickOut(userID string, ban bool) ([]Delivery, error) {
	m, err := r.target(userID)
	if err != nil {
		return nil, err
	}
	if m == r.owner {
		return nil, newErr(ErrPermission, "nobody may remove the owner; end the room instead")
	}
	return r.kickOut(nil, m, ban), nil
}

// ServiceKickSeat empties a guest seat by index: ErrSeatIndexInvalid outside
// 1..maxSeats-1, ErrNotSeated when it is empty.
func (r *Room) ServiceKickSeat(seatIndex int) ([]Delivery, error) {
	if r.ended {
		return nil, newErr(ErrRoomNotFound, "the room has ended")
	}
	if seatIndex < 1 || seatIndex >= len(r.seats) {
		return nil, newErr(ErrSeatIndexInvalid, "seat index must be 1..%d, not %d", len(r.seats)-1, seatIndex)
	}
	t := r.seats[seatIndex].occupant
	if t == nil {
		return nil, newErr(ErrNotSeated, "seat %d is empty", seatIndex)
	}
	return r.kick(nil, t)
}

// ServiceLock is seat.lock by the service.
func (r *Room) ServiceLock(seatIndex int, lockSeat, lockAudio, lockVideo *bool) ([]Delivery, error) {
	if r.ended {
		return nil, newErr(ErrRoomNotFound, "the room has ended")
	}
	return r.lock(nil, seatIndex, lockSeat, lockAudio, lockVideo)
}
