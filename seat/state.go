package seat

import (
	"cmp"
	"container/heap"
	"slices"
	"sort"
	"time"
)

// State is a room's whole domain state as plain values: what another
// process needs to carry the room on exactly where this one left it (a
// cluster takeover, PROTOCOL.md §12). It holds no pointers into the room,
// so it may be kept, compared and serialised freely; its encoding belongs
// to whoever stores it.
//
// Everything a later operation can observe is here: seats with their
// occupants, locks, mutes and publishing flags; members in join order with
// their join sequence (member-list cursors name it) and reconnect graces;
// bans; pending requests in creation order with their exact deadlines; and
// the counters behind request ids and deadline order, so ids are never
// reused and equal deadlines keep firing in the order they were set.
type State struct {
	RoomID   string
	MaxSeats int
	Mode     Mode

	Members       []StateMember // present members in join order; the owner among them
	LastMemberSeq uint64
	Banned        []string // sorted
	Seats         []StateSeat
	Requests      []StateRequest // pending requests in creation order
	LastRequestID uint64
	// LastDeadlineSeq orders deadlines that fall on the same instant.
	LastDeadlineSeq uint64
}

// StateMember is one present member.
type StateMember struct {
	User User
	Seq  uint64 // join order
	// Connected is false while the member is inside its reconnect grace,
	// which ends at GraceUntil (GraceSeq breaks ties between deadlines).
	Connected  bool
	GraceUntil time.Time
	GraceSeq   uint64
}

// StateSeat is one seat; UserID is "" when it is empty. The mutes and
// publishing flags are the occupant's.
type StateSeat struct {
	UserID                           string
	Locked, AudioLocked, VideoLocked bool
	AudioMuted, VideoMuted           bool
	AudioPublishing, VideoPublishing bool
}

// StateRequest is one pending request. Request is what the contract shows;
// Deadline is the exact instant its timeout fires (zero for none), which
// Request.ExpiresAt only shows to the millisecond.
type StateRequest struct {
	Request  Request
	Seq      uint64
	Subject  string // the applicant or the invitee
	Inviter  string // invitations only
	Deadline time.Time
	TimerSeq uint64
}

// Export returns the room's whole state. An ended room has none worth
// keeping: Export reports ok=false for it.
func (r *Room) Export() (State, bool) {
	if r.ended {
		return State{}, false
	}
	st := State{
		RoomID:          r.cfg.RoomID,
		MaxSeats:        r.cfg.MaxSeats,
		Mode:            r.cfg.Mode,
		LastMemberSeq:   r.roster.lastSeq,
		LastRequestID:   r.lastReqID,
		LastDeadlineSeq: r.deadlines.lastSeq,
		Seats:           r.exportSeats(),
		Requests:        r.exportRequests(),
		Banned:          r.exportBans(),
	}
	for _, m := range r.roster.list {
		if !m.gone {
			st.Members = append(st.Members, exportMember(m))
		}
	}
	return st, true
}

func exportMember(m *member) StateMember {
	sm := StateMember{User: m.user, Seq: m.seq, Connected: m.connected}
	if m.grace != nil {
		sm.GraceUntil, sm.GraceSeq = m.grace.at, m.grace.seq
	}
	return sm
}

func (r *Room) exportBans() []string {
	var out []string
	for id := range r.banned {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

func (r *Room) exportSeats() []StateSeat {
	out := make([]StateSeat, len(r.seats))
	for i, s := range r.seats {
		ss := StateSeat{
			Locked: s.locked, AudioLocked: s.audioLocked, VideoLocked: s.videoLocked,
			AudioMuted: s.audioMuted, VideoMuted: s.videoMuted,
			AudioPublishing: s.audioPublishing, VideoPublishing: s.videoPublishing,
		}
		if s.occupant != nil {
			ss.UserID = s.occupant.user.UserID
		}
		out[i] = ss
	}
	return out
}

func (r *Room) exportRequests() []StateRequest {
	var out []StateRequest
	for q := r.pending.first; q != nil; q = q.next {
		sq := StateRequest{Request: q.view(), Seq: q.seq, Subject: q.subject.user.UserID}
		if q.inviter != nil {
			sq.Inviter = q.inviter.user.UserID
		}
		if q.timer != nil {
			sq.Deadline, sq.TimerSeq = q.timer.at, q.timer.seq
		}
		out = append(out, sq)
	}
	return out
}

// Durable is Export without the members who hold nothing: it keeps the
// owner, every seated member, and every subject and sender of a pending
// request — everything the seats and requests refer to — and leaves out
// the audience that is merely present. Its cost grows with seats, pending
// requests and bans, not with the audience, so a room of ten thousand
// viewers can save it after every change. A room restored from it has
// the same seats, requests, bans and counters; the audience members it
// left out join again as new members when their clients come back.
func (r *Room) Durable() (State, bool) {
	if r.ended {
		return State{}, false
	}
	st := State{
		RoomID:          r.cfg.RoomID,
		MaxSeats:        r.cfg.MaxSeats,
		Mode:            r.cfg.Mode,
		LastMemberSeq:   r.roster.lastSeq,
		LastRequestID:   r.lastReqID,
		LastDeadlineSeq: r.deadlines.lastSeq,
		Seats:           r.exportSeats(),
		Requests:        r.exportRequests(),
		Banned:          r.exportBans(),
	}
	keep := map[*member]bool{r.owner: true}
	for _, s := range r.seats {
		if s.occupant != nil {
			keep[s.occupant] = true
		}
	}
	for q := r.pending.first; q != nil; q = q.next {
		keep[q.subject] = true
		if q.inviter != nil {
			keep[q.inviter] = true
		}
	}
	kept := make([]*member, 0, len(keep))
	for m := range keep {
		kept = append(kept, m)
	}
	slices.SortFunc(kept, func(a, b *member) int { return cmp.Compare(a.seq, b.seq) })
	for _, m := range kept {
		st.Members = append(st.Members, exportMember(m))
	}
	return st, true
}

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
	r, err := New(cfg)
	if err != nil {
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
