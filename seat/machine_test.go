package seat

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// source gives the machine its choices: rapid's generators in the property
// test, raw fuzz bytes in the fuzz target.
type source interface {
	intn(label string, n int) int
}

// machine drives a room with random operations and checks, after each one,
// the invariants and the contract's promises about what it sent.
type machine struct {
	clock *fakeClock
	room  *Room
	pool  []User

	issued  map[string]Request // request id → the request as created
	ends    map[string]int     // request id → how many times it ended
	banned  map[string]bool
	rooms   int
	ops     int
	lastErr error
}

// The user pool: an owner, two admins, audience, and a stranger id that
// never joins as itself.
var machinePool = []User{
	user("o", RoleOwner), user("a1", RoleAdmin), user("a2", RoleAdmin),
	user("u1", RoleAudience), user("u2", RoleAudience), user("u3", RoleAudience),
	user("u4", RoleAudience), user("u5", RoleAudience),
}

func newMachine(src source) (*machine, error) {
	m := &machine{clock: newClock(), pool: machinePool}
	return m, m.open(src)
}

func (m *machine) open(src source) error {
	cfg := Config{
		RoomID:     fmt.Sprintf("room-%d", m.rooms),
		MaxSeats:   MinSeats + src.intn("maxSeats", 4),
		Mode:       []Mode{ModeApply, ModeFree}[src.intn("mode", 2)],
		Owner:      m.pool[0],
		Grace:      []time.Duration{0, 5 * time.Second, 30 * time.Second}[src.intn("grace", 3)],
		MaxMembers: []int{0, 4, 7}[src.intn("maxMembers", 3)],
		Clock:      m.clock,
	}
	r, err := New(cfg)
	if err != nil {
		return fmt.Errorf("New(%+v): %w", cfg, err)
	}
	m.room, m.rooms = r, m.rooms+1
	m.issued, m.ends, m.banned = map[string]Request{}, map[string]int{}, map[string]bool{}
	return nil
}

func (m *machine) pick(src source, label string) string {
	i := src.intn(label, len(m.pool)+1)
	if i == len(m.pool) {
		return "ghost"
	}
	return m.pool[i].UserID
}

// aim picks the parties of a pending request of kind half of the time, so
// answers find their request often enough to exercise the accept paths.
func (m *machine) aim(src source, kind RequestKind) (subject, inviter string, ok bool) {
	var qs []*request
	for q := m.room.pending.first; q != nil; q = q.next {
		if q.wire.Kind == kind {
			qs = append(qs, q)
		}
	}
	if len(qs) == 0 || src.intn("aim", 2) == 0 {
		return "", "", false
	}
	q := qs[src.intn("aimAt", len(qs))]
	if q.inviter != nil {
		inviter = q.inviter.user.UserID
	}
	return q.subject.user.UserID, inviter, true
}

func (m *machine) index(src source) int {
	return src.intn("seatIndex", m.room.cfg.MaxSeats+4) - 2 // -2 .. maxSeats+1
}

func (m *machine) timeout(src source) int {
	return []int{0, 1, 2, 7, -1, MaxTimeout, MaxTimeout + 1}[src.intn("timeout", 7)]
}

func (m *machine) extra(src source) string {
	return strings.Repeat("x", []int{0, 3, MaxExtraInfo, MaxExtraInfo + 1}[src.intn("extra", 4)])
}

func (m *machine) kind(src source) Kind {
	return []Kind{KindAudio, KindVideo, "screen"}[src.intn("kind", 3)]
}

func (m *machine) tri(src source, label string) *bool {
	switch src.intn(label, 3) {
	case 0:
		return nil
	case 1:
		return boolp(false)
	}
	return boolp(true)
}

// step runs one random operation and checks it.
func (m *machine) step(src source) error {
	r := m.room
	m.ops++
	before := dump(r)
	seatsBefore := r.Seats()
	seatOf := map[string]int{}
	for _, u := range m.pool {
		seatOf[u.UserID] = r.SeatOf(u.UserID)
	}

	var (
		ds    []Delivery
		err   error
		op    string
		actor string
		newID string // a request this op created
		gain  = map[string]bool{}
	)
	switch src.intn("op", 24) {
	case 0, 1:
		u := m.pool[src.intn("joiner", len(m.pool))]
		switch src.intn("role", 10) {
		case 7:
			u.Role = RoleOwner
		case 8:
			u.Role = RoleAdmin
		case 9:
			u.Role = "bogus"
		}
		if src.intn("rename", 4) == 0 {
			u.Name += "!" // a resume with a new display name
		}
		op = "join " + u.UserID + "/" + string(u.Role)
		_, wasMember := r.members[u.UserID]
		_, ds, err = r.Join(u)
		if err == nil && m.banned[u.UserID] {
			return fmt.Errorf("banned %s joined again", u.UserID)
		}
		if err == nil && !wasMember && (len(ds) != 1 || ds[0].Event != Event(MemberJoined{User: u})) {
			return fmt.Errorf("a new member's join sent %+v", ds)
		}
	case 2:
		actor = m.pick(src, "actor")
		op = "leave " + actor
		ds, err = r.Leave(actor)
	case 3:
		actor = m.pick(src, "actor")
		op = "disconnect " + actor
		ds, err = r.Disconnect(actor)
	case 4:
		actor = m.pick(src, "actor")
		target := m.pick(src, "target")
		op = "kickOut " + actor + " " + target
		ds, err = r.KickOut(actor, target)
		if err == nil {
			m.banned[target] = true
		}
	case 5:
		actor = m.pick(src, "actor")
		op = "end " + actor
		if src.intn("reallyEnd", 8) == 0 {
			ds, err = r.End(actor)
		}
	case 6, 7:
		actor = m.pick(src, "actor")
		idx, to, extra := m.index(src), m.timeout(src), m.extra(src)
		op = fmt.Sprintf("apply %s %d %d %d", actor, idx, to, len(extra))
		newID, ds, err = r.Apply(actor, idx, to, extra)
	case 8:
		actor = m.pick(src, "actor")
		op = "cancelApplication " + actor
		ds, err = r.CancelApplication(actor)
	case 9:
		actor = m.pick(src, "actor")
		applicant, _, ok := m.aim(src, KindApply)
		if !ok {
			applicant = m.pick(src, "applicant")
		}
		op = "acceptApplication " + actor + " " + applicant
		var got int
		got, ds, err = r.AcceptApplication(actor, applicant)
		if err == nil {
			gain[applicant] = true
			if r.SeatOf(applicant) != got {
				return fmt.Errorf("accept returned seat %d but %s sits on %d", got, applicant, r.SeatOf(applicant))
			}
		}
	case 10:
		actor = m.pick(src, "actor")
		applicant, _, ok := m.aim(src, KindApply)
		if !ok {
			applicant = m.pick(src, "applicant")
		}
		op = "rejectApplication " + actor + " " + applicant
		ds, err = r.RejectApplication(actor, applicant)
	case 11, 12:
		actor = m.pick(src, "actor")
		invitee := m.pick(src, "invitee")
		idx, to, extra := m.index(src), m.timeout(src), m.extra(src)
		op = fmt.Sprintf("invite %s %s %d %d %d", actor, invitee, idx, to, len(extra))
		newID, ds, err = r.Invite(actor, invitee, idx, to, extra)
	case 13:
		invitee, inviter, ok := m.aim(src, KindInvite)
		if !ok {
			inviter, invitee = m.pick(src, "actor"), m.pick(src, "invitee")
		}
		actor = inviter
		op = "cancelInvitation " + actor + " " + invitee
		ds, err = r.CancelInvitation(actor, invitee)
	case 14:
		invitee, inviter, ok := m.aim(src, KindInvite)
		if !ok {
			invitee, inviter = m.pick(src, "actor"), m.pick(src, "inviter")
		}
		actor = invitee
		op = "acceptInvitation " + actor + " " + inviter
		var got int
		got, ds, err = r.AcceptInvitation(actor, inviter)
		if err == nil {
			gain[actor] = true
			if r.SeatOf(actor) != got {
				return fmt.Errorf("accept returned seat %d but %s sits on %d", got, actor, r.SeatOf(actor))
			}
		}
	case 15:
		invitee, inviter, ok := m.aim(src, KindInvite)
		if !ok {
			invitee, inviter = m.pick(src, "actor"), m.pick(src, "inviter")
		}
		actor = invitee
		op = "rejectInvitation " + actor + " " + inviter
		ds, err = r.RejectInvitation(actor, inviter)
	case 16:
		actor = m.pick(src, "actor")
		idx := m.index(src)
		op = fmt.Sprintf("take %s %d", actor, idx)
		var got int
		got, ds, err = r.Take(actor, idx)
		if err == nil {
			gain[actor] = true
			if role := r.members[actor].user.Role; role == RoleAudience && r.cfg.Mode != ModeFree {
				return fmt.Errorf("audience %s took a seat in apply mode", actor)
			}
			if r.SeatOf(actor) != got {
				return fmt.Errorf("take returned seat %d but %s sits on %d", got, actor, r.SeatOf(actor))
			}
		}
	case 17:
		actor = m.pick(src, "actor")
		idx := m.index(src)
		op = fmt.Sprintf("move %s %d", actor, idx)
		ds, err = r.Move(actor, idx)
		if err == nil {
			gain[actor] = true
		}
	case 18:
		actor = m.pick(src, "actor")
		op = "leaveSeat " + actor
		ds, err = r.LeaveSeat(actor)
	case 19:
		actor = m.pick(src, "actor")
		target := m.pick(src, "target")
		op = "kick " + actor + " " + target
		ds, err = r.Kick(actor, target)
	case 20:
		actor = m.pick(src, "actor")
		idx := m.index(src)
		ls, la, lv := m.tri(src, "lockSeat"), m.tri(src, "lockAudio"), m.tri(src, "lockVideo")
		op = fmt.Sprintf("lock %s %d %v %v %v", actor, idx, ls, la, lv)
		ds, err = r.Lock(actor, idx, ls, la, lv)
	case 21:
		actor = m.pick(src, "actor")
		kind, muted := m.kind(src), src.intn("muted", 2) == 1
		op = fmt.Sprintf("setMuted %s %s %v", actor, kind, muted)
		ds, err = r.SetMuted(actor, kind, muted)
	case 22:
		actor = m.pick(src, "actor")
		kind, pub := m.kind(src), src.intn("publishing", 2) == 1
		op = fmt.Sprintf("setPublishing %s %s %v", actor, kind, pub)
		ds, err = r.SetPublishing(actor, kind, pub)
	case 23:
		switch src.intn("timeOp", 4) {
		case 0:
			d := []time.Duration{0, 250 * time.Millisecond, time.Second, 3 * time.Second, 6 * time.Second, 40 * time.Second}[src.intn("advance", 6)]
			op = fmt.Sprintf("tick +%v", d)
			m.clock.Advance(d)
			next, has := r.NextDeadline()
			ds = r.Tick()
			if has && !next.After(m.clock.now) && len(ds) == 0 {
				return fmt.Errorf("a deadline at %v passed (now %v) but Tick sent nothing", next, m.clock.now)
			}
			if at, ok := r.NextDeadline(); ok && !at.After(m.clock.now) {
				return fmt.Errorf("Tick left a due deadline %v", at)
			}
		case 1:
			actor = m.pick(src, "actor")
			op = "members " + actor
			if err = m.checkMembers(actor, 1+src.intn("limit", 4)); err != nil && !errors.As(err, new(*Error)) {
				return err
			}
		case 2:
			op = "members bad params"
			_, _, err = r.Members(r.owner.user.UserID, []string{"", "zz", "m0", "m99999"}[src.intn("cursor", 4)], []int{0, -1, 101, 1}[src.intn("limit", 4)])
		default:
			op = "shutdown"
			if src.intn("reallyShutdown", 8) == 0 {
				ds = r.Shutdown(ServerShutdown)
			}
		}
	}
	m.lastErr = err

	if err != nil {
		var e *Error
		if !errors.As(err, &e) || !wireReason(e.Reason) {
			return fmt.Errorf("%s: error %v is not a contract error", op, err)
		}
		if ds != nil {
			return fmt.Errorf("%s: refused (%v) but sent %+v", op, err, ds)
		}
		if after := dump(r); !reflect.DeepEqual(before, after) {
			return fmt.Errorf("%s: refused (%v) but changed the state:\nbefore %+v\nafter  %+v", op, err, before, after)
		}
		return checkInvariants(r)
	}
	if err := checkInvariants(r); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := m.checkDeliveries(op, ds, newID, seatsBefore); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	// Nobody gains a seat except by an operation that gives one.
	for _, u := range m.pool {
		if s := r.SeatOf(u.UserID); s != NoSeat && s != seatOf[u.UserID] && !gain[u.UserID] {
			return fmt.Errorf("%s: %s gained seat %d", op, u.UserID, s)
		}
	}
	if r.Ended() {
		return m.open(src)
	}
	return nil
}

// checkMembers pages through the whole member list with a small limit.
func (m *machine) checkMembers(actor string, limit int) error {
	seen := map[string]bool{}
	cursor := ""
	for range 1000 {
		page, next, err := m.room.Members(actor, cursor, limit)
		if err != nil {
			return err
		}
		if len(page) > limit || (next != "" && len(page) != limit) {
			return fmt.Errorf("page of %d with limit %d and next %q", len(page), limit, next)
		}
		for _, u := range page {
			if seen[u.UserID] {
				return fmt.Errorf("member %s listed twice", u.UserID)
			}
			seen[u.UserID] = true
		}
		if next == "" {
			if len(seen) != m.room.MemberCount() {
				return fmt.Errorf("paging listed %d of %d members", len(seen), m.room.MemberCount())
			}
			return nil
		}
		cursor = next
	}
	return fmt.Errorf("paging never ended")
}

// checkDeliveries checks what one successful operation sent: request ids,
// exactly-once ends, both sides' notifications of every end, and the
// seat.changed promises.
func (m *machine) checkDeliveries(op string, ds []Delivery, newID string, seatsBefore []Seat) error {
	r := m.room
	actual := map[string]int{} // request notifications sent, by key
	var endings []RequestEnded
	seatChanges := 0
	var lastSeats []Seat
	for i, d := range ds {
		switch ev := d.Event.(type) {
		case RequestEnded:
			if d.To != Internal {
				return fmt.Errorf("RequestEnded not internal: %+v", d)
			}
			created, ok := m.issued[ev.Request.RequestID]
			if !ok {
				return fmt.Errorf("request %s ended but was never issued", ev.Request.RequestID)
			}
			if !reflect.DeepEqual(created, ev.Request) {
				return fmt.Errorf("request %s ended as %+v, was created as %+v", ev.Request.RequestID, ev.Request, created)
			}
			m.ends[ev.Request.RequestID]++
			if m.ends[ev.Request.RequestID] != 1 {
				return fmt.Errorf("request %s ended twice", ev.Request.RequestID)
			}
			endings = append(endings, ev)
		case SeatChanged:
			seatChanges++
			if ev.Joined == nil || ev.Left == nil || len(ev.Seats) != r.cfg.MaxSeats {
				return fmt.Errorf("malformed SeatChanged %+v", ev)
			}
			lastSeats = ev.Seats
		case RoomEnded:
			if i != len(ds)-1 || !r.Ended() {
				return fmt.Errorf("RoomEnded is not the last delivery of an ended room")
			}
		case ApplicationReceived, InvitationReceived:
			var q Request
			if a, ok := ev.(ApplicationReceived); ok {
				q = a.Request
			} else {
				q = ev.(InvitationReceived).Request
			}
			if q.RequestID != newID || newID == "" {
				return fmt.Errorf("%s announced outside its creation", q.RequestID)
			}
			if _, dup := m.issued[newID]; dup {
				return fmt.Errorf("request id %s issued twice", newID)
			}
			m.issued[newID] = q
		default:
			if k := requestKey(d); k != "" {
				actual[k]++
			}
		}
	}
	if newID != "" {
		if _, ok := m.issued[newID]; !ok {
			return fmt.Errorf("request %s created without being announced", newID)
		}
	}
	for _, e := range endings {
		if err := m.consumeEnd(e, ds, actual); err != nil {
			return err
		}
	}
	for k, n := range actual {
		if n != 0 {
			return fmt.Errorf("request notification %q sent %d times without its end", k, n)
		}
	}
	// seat.changed: every change of what the seats show sends one per
	// operation (Tick may carry several, one per fired deadline).
	if lastSeats != nil && !reflect.DeepEqual(lastSeats, r.Seats()) && !r.Ended() {
		return fmt.Errorf("last SeatChanged %+v is not the final state %+v", lastSeats, r.Seats())
	}
	if !strings.HasPrefix(op, "tick") {
		changedView := !reflect.DeepEqual(seatsBefore, r.Seats())
		if (changedView && seatChanges != 1) || seatChanges > 1 {
			return fmt.Errorf("seats changed=%v with %d SeatChanged", changedView, seatChanges)
		}
	}
	if r.Ended() {
		for id := range m.issued {
			if m.ends[id] != 1 {
				return fmt.Errorf("request %s outlived the room", id)
			}
		}
	}
	return nil
}

// consumeEnd removes from actual the notifications the end of e must have
// sent to both sides, failing if one is missing.
func (m *machine) consumeEnd(e RequestEnded, ds []Delivery, actual map[string]int) error {
	q := e.Request
	var want []Delivery
	if q.Kind == KindApply {
		applicant := q.From
		cancelled := func(reason string) Delivery {
			return toHosts(applicant.UserID, ApplicationCancelled{User: applicant, Reason: reason})
		}
		switch e.Outcome {
		case OutcomeAccepted, OutcomeRejected:
			var resp *ApplicationResponded
			for _, d := range ds {
				if ar, ok := d.Event.(ApplicationResponded); ok && d.UserID == applicant.UserID {
					resp = &ar
				}
			}
			if resp == nil || resp.Accepted != (e.Outcome == OutcomeAccepted) || !resp.Host.Role.IsHost() {
				return fmt.Errorf("application %s %s without a matching response: %+v", q.RequestID, e.Outcome, resp)
			}
			if resp.Accepted && (resp.SeatIndex == nil || m.room.SeatOf(applicant.UserID) != *resp.SeatIndex) {
				return fmt.Errorf("accepted application %s names the wrong seat", q.RequestID)
			}
			want = append(want, toUser(applicant.UserID, *resp),
				toHosts(resp.Host.UserID, ApplicationProcessedByOtherHost{User: applicant, Host: resp.Host, Accepted: resp.Accepted}))
		case OutcomeCancelled:
			want = append(want, cancelled(ReasonCancelled))
		case OutcomeTimeout:
			want = append(want, cancelled(ReasonTimeout), toUser(applicant.UserID, ApplicationNoResponse{Reason: ReasonTimeout}))
		case OutcomeLeft:
			want = append(want, cancelled(ReasonLeft))
		case OutcomeAlreadySeated:
			want = append(want, cancelled(ReasonAlreadySeated), toUser(applicant.UserID, ApplicationNoResponse{Reason: ReasonAlreadySeated}))
		case OutcomeRoomEnded:
		default:
			return fmt.Errorf("unknown outcome %q", e.Outcome)
		}
		return take(actual, want)
	}
	inviter, invitee := q.From, *q.To
	toInviter := func(ev Event) Delivery { return toUser(inviter.UserID, ev) }
	toInvitee := func(reason string) Delivery {
		return toUser(invitee.UserID, InvitationCancelled{Host: inviter, Reason: reason})
	}
	switch e.Outcome {
	case OutcomeAccepted:
		want = append(want, toInviter(InvitationResponded{User: invitee, Accepted: true}))
	case OutcomeRejected:
		want = append(want, toInviter(InvitationResponded{User: invitee, Accepted: false}))
	case OutcomeCancelled:
		want = append(want, toInvitee(ReasonCancelled))
	case OutcomeTimeout:
		want = append(want, toInviter(InvitationNoResponse{User: invitee, Reason: ReasonTimeout}), toInvitee(ReasonTimeout))
	case OutcomeLeft:
		inviteeLeft := []Delivery{toInviter(InvitationNoResponse{User: invitee, Reason: ReasonLeft})}
		inviterLeft := []Delivery{toInvitee(ReasonLeft)}
		_, inviterStays := m.room.Member(inviter.UserID)
		_, inviteeStays := m.room.Member(invitee.UserID)
		switch {
		case inviterStays && inviteeStays:
			return fmt.Errorf("invitation %s ended 'left' but both sides are members", q.RequestID)
		case inviterStays:
			return take(actual, inviteeLeft)
		case inviteeStays:
			return take(actual, inviterLeft)
		}
		if take(actual, inviteeLeft) == nil {
			return nil
		}
		return take(actual, inviterLeft)
	case OutcomeAlreadySeated:
		want = append(want, toInviter(InvitationNoResponse{User: invitee, Reason: ReasonAlreadySeated}), toInvitee(ReasonAlreadySeated))
	case OutcomeRoomEnded:
	default:
		return fmt.Errorf("unknown outcome %q", e.Outcome)
	}
	return take(actual, want)
}

// take removes want from the multiset actual, or fails leaving it as it was.
func take(actual map[string]int, want []Delivery) error {
	for i, d := range want {
		k := requestKey(d)
		if actual[k] == 0 {
			for _, u := range want[:i] {
				actual[requestKey(u)]++
			}
			return fmt.Errorf("missing notification %q", k)
		}
		actual[k]--
	}
	return nil
}

// requestKey names a request notification by everything that must match;
// "" for other events.
//
// Users are named by id and role: a member who resumed with a new display
// name may show it in later notifications.
func requestKey(d Delivery) string {
	who := func(u User) string { return u.UserID + "/" + string(u.Role) }
	var ev string
	switch e := d.Event.(type) {
	case ApplicationResponded:
		seat := "nil"
		if e.SeatIndex != nil {
			seat = fmt.Sprint(*e.SeatIndex)
		}
		ev = fmt.Sprintf("accepted=%v host=%s seat=%s", e.Accepted, who(e.Host), seat)
	case ApplicationProcessedByOtherHost:
		ev = fmt.Sprintf("user=%s host=%s accepted=%v", who(e.User), who(e.Host), e.Accepted)
	case ApplicationCancelled:
		ev = fmt.Sprintf("user=%s reason=%s", who(e.User), e.Reason)
	case ApplicationNoResponse:
		ev = "reason=" + e.Reason
	case InvitationResponded:
		ev = fmt.Sprintf("user=%s accepted=%v", who(e.User), e.Accepted)
	case InvitationNoResponse:
		ev = fmt.Sprintf("user=%s reason=%s", who(e.User), e.Reason)
	case InvitationCancelled:
		ev = fmt.Sprintf("host=%s reason=%s", who(e.Host), e.Reason)
	default:
		return ""
	}
	return fmt.Sprintf("%d|%s|%s|%s|%s", d.To, d.UserID, d.Except, eventName(d.Event), ev)
}
