package seat

import (
	"sort"
	"strconv"
	"strings"
)

// member is one user in the room.
type member struct {
	user      User
	seq       uint64 // join order; a rejoin after leaving gets a new one
	seat      int    // NoSeat when not seated
	connected bool
	grace     *deadline // set while disconnected
	// request is the one pending request this user is the subject of: an
	// application it sent or an invitation it received (rule 2).
	request *request
	// invites are the invitations this host sent, by invitee id.
	invites map[string]*request
	gone    bool
}

// roster keeps members in join order so Members can page with a cursor that
// survives joins and leaves: a member present through the whole paging
// appears exactly once. Leavers stay in the slice (marked gone) until they
// make up half of it, so removal is O(1) amortised.
type roster struct {
	list    []*member
	gone    int
	lastSeq uint64
}

func (ro *roster) add(m *member) {
	ro.lastSeq++
	m.seq = ro.lastSeq
	ro.list = append(ro.list, m)
}

func (ro *roster) remove(m *member) {
	m.gone = true
	ro.gone++
	if ro.gone > 32 && ro.gone*2 > len(ro.list) {
		kept := ro.list[:0]
		for _, x := range ro.list {
			if !x.gone {
				kept = append(kept, x)
			}
		}
		clear(ro.list[len(kept):])
		ro.list = kept
		ro.gone = 0
	}
}

// after returns up to limit present members whose seq is above seq, and
// whether more follow.
func (ro *roster) after(seq uint64, limit int) ([]*member, bool) {
	i := sort.Search(len(ro.list), func(i int) bool { return ro.list[i].seq > seq })
	var page []*member
	for ; i < len(ro.list); i++ {
		if ro.list[i].gone {
			continue
		}
		if len(page) == limit {
			return page, true
		}
		page = append(page, ro.list[i])
	}
	return page, false
}

func (r *Room) addMember(u User) *member {
	m := &member{user: u, seat: NoSeat, connected: true}
	r.roster.add(m)
	r.members[u.UserID] = m
	return m
}

// actor finds the member behind an operation: ErrRoomNotFound once the room
// has ended, ErrNotJoined for a stranger.
func (r *Room) actor(userID string) (*member, error) {
	if r.ended {
		return nil, newErr(ErrRoomNotFound, "the room has ended")
	}
	m, ok := r.members[userID]
	if !ok {
		return nil, newErr(ErrNotJoined, "%q is not a member of the room", userID)
	}
	return m, nil
}

func (r *Room) host(userID string) (*member, error) {
	m, err := r.actor(userID)
	if err != nil {
		return nil, err
	}
	if !m.user.Role.IsHost() {
		return nil, newErr(ErrPermission, "only the owner and admins manage seats")
	}
	return m, nil
}

// Join adds a member, or resumes one that is inside its reconnect grace (its
// seat and requests are kept; its published media is not: the seat shows
// microphone/camera "off" until it publishes again). A user already
// connected is resumed too (the edge replaces the old socket). The returned
// snapshot is what room.join answers. Errors: ErrBanned, ErrRoomFull,
// ErrPermission (an owner token for a room that has another owner).
//
// A resumed member keeps the role it joined with (a token with another role
// does not promote or demote it mid-membership); its name and avatar are
// refreshed.
func (r *Room) Join(u User) (Snapshot, []Delivery, error) {
	if r.ended {
		return Snapshot{}, nil, newErr(ErrRoomNotFound, "the room has ended")
	}
	if u.UserID == "" {
		return Snapshot{}, nil, newErr(ErrInvalidParams, "empty user id")
	}
	switch u.Role {
	case RoleOwner, RoleAdmin, RoleAudience:
	default:
		return Snapshot{}, nil, newErr(ErrInvalidParams, "unknown role %q", u.Role)
	}
	isOwner := u.UserID == r.owner.user.UserID
	if (u.Role == RoleOwner) != isOwner {
		return Snapshot{}, nil, newErr(ErrPermission, "%q is not this room's owner", u.UserID)
	}
	if _, banned := r.banned[u.UserID]; banned {
		return Snapshot{}, nil, newErr(ErrBanned, "%q was removed from this room", u.UserID)
	}
	if role, ok := r.roles[u.UserID]; ok {
		u.Role = role // the service's grant outranks the token (service.go)
	}

	var out []Delivery
	m, resume := r.members[u.UserID]
	if resume {
		m.connected = true
		r.deadlines.remove(m.grace)
		m.grace = nil
		if m.seat == NoSeat {
			m.user.Name, m.user.Avatar = u.Name, u.Avatar
		} else {
			// A new name or avatar shows on the seat too: one seat.changed
			// covers it and the media that stopped.
			s := &r.seats[m.seat]
			out = r.changeSeatView(m, func() {
				m.user.Name, m.user.Avatar = u.Name, u.Avatar
				s.audioPublishing, s.videoPublishing = false, false
			})
		}
	} else {
		if r.cfg.MaxMembers > 0 && len(r.members) >= r.cfg.MaxMembers {
			return Snapshot{}, nil, newErr(ErrRoomFull, "the room has %d members", len(r.members))
		}
		m = r.addMember(u)
		out = append(out, Delivery{To: Hosts, Except: u.UserID, Event: MemberJoined{User: m.user}})
	}
	return r.snapshot(m), out, nil
}

func (r *Room) snapshot(m *member) Snapshot {
	s := Snapshot{Room: r.Info(), Self: m.user, Seats: r.Seats(), Requests: []Request{}}
	if m.user.Role.IsHost() {
		var total int
		s.Requests, total = r.hostRequests()
		s.RequestsTotal = &total
	} else if m.request != nil {
		s.Requests = append(s.Requests, m.request.view())
	}
	return s
}

// Leave is room.leave: the member goes at once (seat freed with reason
// "left", its requests end with "left"). ErrOwnerCannotLeave for the owner.
func (r *Room) Leave(userID string) ([]Delivery, error) {
	m, err := r.actor(userID)
	if err != nil {
		return nil, err
	}
	if m == r.owner {
		return nil, newErr(ErrOwnerCannotLeave, "the owner ends the room instead")
	}
	return r.removeMember(nil, m, LeftLeft, nil), nil
}

// Disconnect marks a member whose socket dropped. It keeps its seat and
// requests until now+Grace; its media stops (publishing flags cleared).
// Tick after the deadline makes it leave (reason "disconnected"); for the
// owner the room ends with OwnerTimeout. With Grace 0 it leaves at once.
// Disconnecting a member that is already disconnected changes nothing (its
// first deadline stands).
func (r *Room) Disconnect(userID string) ([]Delivery, error) {
	m, err := r.actor(userID)
	if err != nil {
		return nil, err
	}
	if !m.connected {
		return nil, nil
	}
	if r.cfg.Grace == 0 {
		if m == r.owner {
			return r.Shutdown(OwnerTimeout), nil
		}
		return r.removeMember(nil, m, LeftDisconnected, nil), nil
	}
	m.connected = false
	m.grace = r.deadlines.add(r.cfg.Clock.Now().Add(r.cfg.Grace), nil, m)
	return r.stopPublishing(nil, m), nil
}

// KickOut is room.kickOut: the target leaves (seat reason "kicked"), is
// banned from rejoining, and gets KickedOut. Owner and admins may kick out;
// nobody may kick out the owner, and an admin may not kick out an admin.
// An unknown target is ErrInvalidParams.
func (r *Room) KickOut(actor, target string) ([]Delivery, error) {
	a, err := r.host(actor)
	if err != nil {
		return nil, err
	}
	t, ok := r.members[target]
	if !ok {
		return nil, newErr(ErrInvalidParams, "no such member %q", target)
	}
	if t == r.owner {
		return nil, newErr(ErrPermission, "nobody may remove the owner")
	}
	if a.user.Role == RoleAdmin && t.user.Role == RoleAdmin {
		return nil, newErr(ErrPermission, "an admin may not remove an admin")
	}
	return r.kickOut(a, t, true), nil
}

// kickOut removes t (seat reason "kicked") and, with ban, bars it from
// rejoining. by is the host who acted, nil for the service.
func (r *Room) kickOut(by, t *member, ban bool) []Delivery {
	out := []Delivery{{To: OneUser, UserID: t.user.UserID, Event: KickedOut{By: by.userRef()}}}
	if ban {
		r.banned[t.user.UserID] = struct{}{}
	}
	return r.removeMember(out, t, LeftKicked, by)
}

// removeMember makes m leave the room: its requests end ("left"), its seat
// frees with seatReason, and the hosts learn it left. kickedBy is set for
// room.kickOut. seatReason doubles as room.memberLeft's reason.
func (r *Room) removeMember(out []Delivery, m *member, seatReason string, kickedBy *member) []Delivery {
	if m.request != nil {
		out = r.endRequest(out, m.request, OutcomeLeft, endDetail{})
	}
	if len(m.invites) > 0 {
		sent := make([]*request, 0, len(m.invites))
		for _, q := range m.invites {
			sent = append(sent, q)
		}
		sort.Slice(sent, func(i, j int) bool { return sent[i].seq < sent[j].seq })
		for _, q := range sent {
			out = r.endRequest(out, q, OutcomeLeft, endDetail{inviterLeft: true})
		}
	}
	if m.seat != NoSeat {
		left := SeatLeave{User: m.user, SeatIndex: m.seat, Reason: seatReason}
		r.unsit(m)
		out = append(out, r.seatChanged(nil, []SeatLeave{left}))
	}
	r.deadlines.remove(m.grace)
	m.grace = nil
	delete(r.members, m.user.UserID)
	r.roster.remove(m)
	return append(out, Delivery{To: Hosts, Event: MemberLeft{User: m.user, Reason: seatReason}})
}

// End is room.end by the owner (ErrPermission for anyone else).
func (r *Room) End(actor string) ([]Delivery, error) {
	m, err := r.actor(actor)
	if err != nil {
		return nil, err
	}
	if m != r.owner {
		return nil, newErr(ErrPermission, "only the owner ends the room")
	}
	return r.Shutdown(EndedByOwner), nil
}

// Shutdown ends the room for a reason that is nobody's action
// (OwnerTimeout, ServerShutdown). Every pending request ends (outcome
// room_ended), every seat empties (reason room_ended) and RoomEnded goes to
// everyone. Calling it on an ended room returns nil. The reason is passed
// through as given: callers use the End* constants.
func (r *Room) Shutdown(reason string) []Delivery {
	if r.ended {
		return nil
	}
	var out []Delivery
	for r.pending.first != nil {
		out = r.endRequest(out, r.pending.first, OutcomeRoomEnded, endDetail{})
	}
	var left []SeatLeave
	for i := range r.seats {
		if m := r.seats[i].occupant; m != nil {
			left = append(left, SeatLeave{User: m.user, SeatIndex: i, Reason: LeftRoomEnded})
			r.unsit(m)
		}
	}
	out = append(out, r.seatChanged(nil, left))
	// RoomEnded goes to everyone, so it is routed while the members are
	// still known; the state itself forgets them now.
	out = append(out, Delivery{To: Everyone, Event: RoomEnded{Reason: reason}})
	r.ended = true
	r.deadlines.clear()
	for _, m := range r.members {
		m.grace = nil
	}
	clear(r.members)
	r.roster = roster{lastSeq: r.roster.lastSeq}
	return out
}

// Members pages through every member once (owner and caller included) in a
// stable order; cursor "" starts, the returned cursor "" means the end.
// limit must be 1..100 (ErrInvalidParams), and so must a cursor this room
// did not hand out.
//
// The order is join order. A cursor names the last member returned, so a
// member present through the whole paging appears exactly once however
// others join and leave between pages.
func (r *Room) Members(actor, cursor string, limit int) ([]User, string, error) {
	if _, err := r.actor(actor); err != nil {
		return nil, "", err
	}
	if limit < 1 || limit > 100 {
		return nil, "", newErr(ErrInvalidParams, "limit must be 1..100, not %d", limit)
	}
	var after uint64
	if cursor != "" {
		n, err := strconv.ParseUint(strings.TrimPrefix(cursor, "m"), 10, 64)
		if err != nil || !strings.HasPrefix(cursor, "m") || n == 0 || n > r.roster.lastSeq {
			return nil, "", newErr(ErrInvalidParams, "bad cursor %q", cursor)
		}
		after = n
	}
	page, more := r.roster.after(after, limit)
	users := make([]User, len(page))
	for i, m := range page {
		users[i] = m.user
	}
	next := ""
	if more {
		next = "m" + strconv.FormatUint(page[len(page)-1].seq, 10)
	}
	return users, next, nil
}

// Member returns a member by id.
func (r *Room) Member(userID string) (User, bool) {
	m, ok := r.members[userID]
	if !ok {
		return User{}, false
	}
	return m.user, true
}

// Banned reports whether the user was kicked out of the room and may not
// come back. The media layer asks it before serving a player that is not a
// member (WHEP), so a kick-out also ends watching.
func (r *Room) Banned(userID string) bool {
	_, banned := r.banned[userID]
	return banned
}

// MemberCount counts members, disconnected ones inside their grace included.
func (r *Room) MemberCount() int { return len(r.members) }
