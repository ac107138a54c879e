package seat

import (
	"cmp"
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
// bans; pending requests in creation order with their exact deadlines; the
// metadata, role grants and chat mutes of the server API (§11); and
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

	// PROTOCOL.md §11: the metadata and when the room opened, the roles
	// the server API granted (sorted by user) and the users it muted in
	// chat (sorted).
	Meta      Meta
	CreatedAt time.Time
	Roles     []StateRole
	ChatMuted []string
}

// StateRole is a role the server API granted a user.
type StateRole struct {
	UserID string
	Role   Role
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
	st := r.exportAllButMembers()
	for _, m := range r.roster.list {
		if !m.gone {
			st.Members = append(st.Members, exportMember(m))
		}
	}
	return st, true
}

// exportAllButMembers is the state Export and Durable share; they differ
// only in which members they keep.
func (r *Room) exportAllButMembers() State {
	return State{
		RoomID:          r.cfg.RoomID,
		MaxSeats:        r.cfg.MaxSeats,
		Mode:            r.cfg.Mode,
		LastMemberSeq:   r.roster.lastSeq,
		LastRequestID:   r.lastReqID,
		LastDeadlineSeq: r.deadlines.lastSeq,
		Seats:           r.exportSeats(),
		Requests:        r.exportRequests(),
		Banned:          r.exportBans(),
		Meta:            r.meta,
		CreatedAt:       r.createdAt,
		Roles:           r.exportRoles(),
		ChatMuted:       r.exportChatMuted(),
	}
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

func (r *Room) exportRoles() []StateRole {
	var out []StateRole
	for id, role := range r.roles {
		out = append(out, StateRole{UserID: id, Role: role})
	}
	slices.SortFunc(out, func(a, b StateRole) int { return cmp.Compare(a.UserID, b.UserID) })
	return out
}

func (r *Room) exportChatMuted() []string {
	var out []string
	for id := range r.chatMuted {
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
	st := r.exportAllButMembers()
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
