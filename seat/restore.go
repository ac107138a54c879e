package seat

import (
	"container/heap"
	"slices"
	"time"
)

// Restore rebuilds a room from an exported state. The state supplies the
// room's id, seat count, mode and owner; cfg supplies what belongs to the
// process running it (Grace, MaxMembers, Clock), and any of RoomID,
// MaxSeats, Mode or Owner it sets must agree with the state.
//
// Deadlines keep their instants: a grace or request timeout that passed
// while nobody ran the room fires at the first Tick. A state that does not
// describe a consistent room (it came from storage, so it is input) is
// refused with ErrInvalidParams naming the first fault.
func Restore(st State, cfg Config) (*Room, error) {
	owner, err := stateOwner(st)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.RoomID != "" && cfg.RoomID != st.RoomID:
		return nil, newErr(ErrInvalidParams, "state of room %q restored as %q", st.RoomID, cfg.RoomID)
	case cfg.MaxSeats != 0 && cfg.MaxSeats != st.MaxSeats:
		return nil, newErr(ErrInvalidParams, "state has %d seats, config %d", st.MaxSeats, cfg.MaxSeats)
	case cfg.Mode != "" && cfg.Mode != st.Mode:
		return nil, newErr(ErrInvalidParams, "state has seat mode %q, config %q", st.Mode, cfg.Mode)
	case cfg.Owner.UserID != "" && cfg.Owner.UserID != owner.UserID:
		return nil, newErr(ErrInvalidParams, "state's owner is %q, config's %q", owner.UserID, cfg.Owner.UserID)
	case len(st.Seats) != st.MaxSeats:
		return nil, newErr(ErrInvalidParams, "state lists %d seats for maxSeats %d", len(st.Seats), st.MaxSeats)
	}
	cfg.RoomID, cfg.MaxSeats, cfg.Mode, cfg.Owner = st.RoomID, st.MaxSeats, st.Mode, owner
	cfg.Meta = st.Meta // New checks it like a new room's
	r, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := r.restoreService(st); err != nil {
		return nil, err
	}
	// Start from New's checks and shape, then replace its fresh contents.
	r.members = make(map[string]*member, len(st.Members))
	r.roster = roster{lastSeq: st.LastMemberSeq}
	r.seats = make([]seatState, st.MaxSeats)
	r.lastReqID = st.LastRequestID
	r.deadlines = deadlineQueue{lastSeq: st.LastDeadlineSeq}
	if err := r.restoreMembers(st); err != nil {
		return nil, err
	}
	if err := r.restoreSeats(st); err != nil {
		return nil, err
	}
	if err := r.restoreRequests(st); err != nil {
		return nil, err
	}
	return r, nil
}

// stateOwner finds the one member with the owner role.
func stateOwner(st State) (User, error) {
	var owner *User
	for i := range st.Members {
		if u := &st.Members[i].User; u.Role == RoleOwner {
			if owner != nil {
				return User{}, newErr(ErrInvalidParams, "state has two owners, %q and %q", owner.UserID, u.UserID)
			}
			owner = u
		}
	}
	if owner == nil {
		return User{}, newErr(ErrInvalidParams, "state of room %q has no owner", st.RoomID)
	}
	return *owner, nil
}

func (r *Room) restoreMembers(st State) error {
	var prev uint64
	for _, sm := range st.Members {
		u := sm.User
		switch {
		case u.UserID == "":
			return newErr(ErrInvalidParams, "state has a member with an empty id")
		case u.Role != RoleOwner && u.Role != RoleAdmin && u.Role != RoleAudience:
			return newErr(ErrInvalidParams, "member %q has unknown role %q", u.UserID, u.Role)
		case r.members[u.UserID] != nil:
			return newErr(ErrInvalidParams, "member %q is listed twice", u.UserID)
		case sm.Seq <= prev || sm.Seq > st.LastMemberSeq:
			return newErr(ErrInvalidParams, "member %q has join sequence %d out of order", u.UserID, sm.Seq)
		case sm.Connected != sm.GraceUntil.IsZero():
			return newErr(ErrInvalidParams, "member %q: connected=%v but grace until %v", u.UserID, sm.Connected, sm.GraceUntil)
		case !sm.Connected && (sm.GraceSeq == 0 || sm.GraceSeq > st.LastDeadlineSeq):
			return newErr(ErrInvalidParams, "member %q has grace sequence %d out of range", u.UserID, sm.GraceSeq)
		}
		prev = sm.Seq
		m := &member{user: u, seq: sm.Seq, seat: NoSeat, connected: sm.Connected}
		r.roster.list = append(r.roster.list, m)
		r.members[u.UserID] = m
		if u.Role == RoleOwner {
			r.owner = m
		}
		if !sm.Connected {
			m.grace = r.deadlines.restore(sm.GraceUntil, sm.GraceSeq, nil, m)
		}
	}
	r.banned = make(map[string]struct{}, len(st.Banned))
	for _, id := range st.Banned {
		if r.members[id] != nil {
			return newErr(ErrInvalidParams, "banned %q is a member", id)
		}
		r.banned[id] = struct{}{}
	}
	return nil
}

func (r *Room) restoreSeats(st State) error {
	for i, ss := range st.Seats {
		s := seatState{
			locked: ss.Locked, audioLocked: ss.AudioLocked, videoLocked: ss.VideoLocked,
			audioMuted: ss.AudioMuted, videoMuted: ss.VideoMuted,
			audioPublishing: ss.AudioPublishing, videoPublishing: ss.VideoPublishing,
		}
		if ss.UserID == "" {
			if s.audioMuted || s.videoMuted || s.audioPublishing || s.videoPublishing {
				return newErr(ErrInvalidParams, "empty seat %d keeps an occupant's media state", i)
			}
			r.seats[i] = s
			continue
		}
		m := r.members[ss.UserID]
		switch {
		case m == nil:
			return newErr(ErrInvalidParams, "seat %d's occupant %q is not a member", i, ss.UserID)
		case m.seat != NoSeat:
			return newErr(ErrInvalidParams, "%q sits on seats %d and %d", ss.UserID, m.seat, i)
		case s.locked:
			return newErr(ErrInvalidParams, "locked seat %d is occupied", i)
		case (s.audioLocked && !s.audioMuted) || (s.videoLocked && !s.videoMuted):
			return newErr(ErrInvalidParams, "seat %d has a locked kind that is not muted", i)
		}
		s.occupant, m.seat = m, i
		r.seats[i] = s
	}
	if r.seats[0].occupant != r.owner {
		return newErr(ErrInvalidParams, "seat 0 is not the owner's")
	}
	return nil
}

func (r *Room) restoreRequests(st State) error {
	var prev uint64
	ids := make(map[string]bool, len(st.Requests))
	for _, sq := range st.Requests {
		w := sq.Request
		subject, inviter := r.members[sq.Subject], r.members[sq.Inviter]
		switch {
		case w.RequestID == "" || ids[w.RequestID]:
			return newErr(ErrInvalidParams, "request id %q is empty or repeated", w.RequestID)
		case sq.Seq <= prev || sq.Seq > st.LastRequestID:
			return newErr(ErrInvalidParams, "request %s has sequence %d out of order", w.RequestID, sq.Seq)
		case subject == nil:
			return newErr(ErrInvalidParams, "request %s's subject %q is not a member", w.RequestID, sq.Subject)
		case subject.request != nil:
			return newErr(ErrInvalidParams, "%q is the subject of two requests", sq.Subject)
		case subject.seat != NoSeat:
			return newErr(ErrInvalidParams, "request %s is pending for seated %q", w.RequestID, sq.Subject)
		case w.SeatIndex != NoSeat && (w.SeatIndex < 1 || w.SeatIndex >= len(r.seats)):
			return newErr(ErrInvalidParams, "request %s names seat %d", w.RequestID, w.SeatIndex)
		case w.Kind == KindApply && (sq.Inviter != "" || subject == r.owner):
			return newErr(ErrInvalidParams, "application %s has an inviter or comes from the owner", w.RequestID)
		case w.Kind == KindInvite && (inviter == nil || inviter == subject || !inviter.user.Role.IsHost()):
			return newErr(ErrInvalidParams, "invitation %s's inviter %q is not another present host", w.RequestID, sq.Inviter)
		case w.Kind != KindApply && w.Kind != KindInvite:
			return newErr(ErrInvalidParams, "request %s has unknown kind %q", w.RequestID, w.Kind)
		case !sq.Deadline.IsZero() && (sq.TimerSeq == 0 || sq.TimerSeq > st.LastDeadlineSeq):
			return newErr(ErrInvalidParams, "request %s has timer sequence %d out of range", w.RequestID, sq.TimerSeq)
		case sq.Deadline.IsZero() != (w.ExpiresAt == 0):
			return newErr(ErrInvalidParams, "request %s: deadline %v but expiresAt %d", w.RequestID, sq.Deadline, w.ExpiresAt)
		}
		prev = sq.Seq
		ids[w.RequestID] = true
		q := &request{wire: w, seq: sq.Seq, subject: subject}
		if w.To != nil {
			to := *w.To
			q.wire.To = &to
		}
		if w.Kind == KindInvite {
			q.inviter = inviter
			if inviter.invites == nil {
				inviter.invites = make(map[string]*request)
			}
			inviter.invites[subject.user.UserID] = q
		}
		if !sq.Deadline.IsZero() {
			q.timer = r.deadlines.restore(sq.Deadline, sq.TimerSeq, q, nil)
		}
		subject.request = q
		r.pending.push(q)
	}
	if seqs := r.deadlineSeqs(); len(slices.Compact(seqs)) != len(r.deadlines.items) {
		return newErr(ErrInvalidParams, "two deadlines share a sequence number")
	}
	return nil
}

// deadlineSeqs lists the live deadlines' sequence numbers, sorted.
func (r *Room) deadlineSeqs() []uint64 {
	seqs := make([]uint64, len(r.deadlines.items))
	for i, d := range r.deadlines.items {
		seqs[i] = d.seq
	}
	slices.Sort(seqs)
	return seqs
}

// restore re-adds a deadline with the sequence number it had when it was
// set, so ties keep their order across an export and restore.
func (q *deadlineQueue) restore(at time.Time, seq uint64, req *request, m *member) *deadline {
	d := &deadline{at: at, seq: seq, request: req, member: m}
	heap.Push(&q.items, d)
	return d
}

// restoreService brings back what the server API set (PROTOCOL.md §11):
// granted roles and chat mutes, and the room's opening time.
func (r *Room) restoreService(st State) error {
	if !st.CreatedAt.IsZero() {
		r.createdAt = st.CreatedAt
	}
	for _, sr := range st.Roles {
		switch {
		case sr.UserID == "":
			return newErr(ErrInvalidParams, "state grants a role to an empty id")
		case sr.Role != RoleAdmin && sr.Role != RoleAudience:
			return newErr(ErrInvalidParams, "state grants %q the role %q", sr.UserID, sr.Role)
		case sr.UserID == r.cfg.Owner.UserID:
			return newErr(ErrInvalidParams, "state grants the owner %q a role", sr.UserID)
		}
		r.roles[sr.UserID] = sr.Role
	}
	for _, id := range st.ChatMuted {
		if id == "" {
			return newErr(ErrInvalidParams, "state mutes an empty id")
		}
		r.chatMuted[id] = struct{}{}
	}
	return nil
}
