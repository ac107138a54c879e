package seat

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// The controller starts no goroutines; goleak keeps it that way.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock is the injected clock: time moves only when a test says so.
type fakeClock struct{ now time.Time }

func newClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time          { return c.now }
func (c *fakeClock) Advance(d time.Duration) { c.now = c.now.Add(d) }

func user(id string, role Role) User {
	return User{UserID: id, Name: "name-" + id, Avatar: "https://a.example/" + id, Role: role}
}

var (
	owner = user("owner", RoleOwner)
	adm1  = user("adm1", RoleAdmin)
	adm2  = user("adm2", RoleAdmin)
	aud1  = user("aud1", RoleAudience)
	aud2  = user("aud2", RoleAudience)
	aud3  = user("aud3", RoleAudience)
)

// fixture is a room with an owner, two admins and three audience members,
// all joined; its clock is fake.
type fixture struct {
	t     *testing.T
	clock *fakeClock
	room  *Room
}

func newFixture(t *testing.T, mutate ...func(*Config)) *fixture {
	t.Helper()
	clock := newClock()
	cfg := Config{RoomID: "room", MaxSeats: 4, Owner: owner, Grace: 10 * time.Second, Clock: clock}
	for _, m := range mutate {
		m(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f := &fixture{t: t, clock: clock, room: r}
	for _, u := range []User{owner, adm1, adm2, aud1, aud2, aud3} {
		f.join(u)
	}
	return f
}

func (f *fixture) join(u User) []Delivery {
	f.t.Helper()
	_, ds, err := f.room.Join(u)
	f.must(err)
	return ds
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatalf("unexpected error: %v", err)
	}
}

// refuse runs op, which must fail with want and leave the whole state as it
// was, sending nothing.
func (f *fixture) refuse(want *Error, op func() ([]Delivery, error)) {
	f.t.Helper()
	before := dump(f.room)
	ds, err := op()
	if !errors.Is(err, want) {
		f.t.Fatalf("error = %v, want %s", err, want.Reason)
	}
	var e *Error
	if !errors.As(err, &e) || !wireReason(e.Reason) {
		f.t.Fatalf("error %v does not carry a reason of the protocol", err)
	}
	if ds != nil {
		f.t.Fatalf("a refused operation sent %v", ds)
	}
	if after := dump(f.room); !reflect.DeepEqual(before, after) {
		f.t.Fatalf("a refused operation changed the state:\nbefore %+v\nafter  %+v", before, after)
	}
}

// wireReason reports whether the protocol gives reason a code of its own:
// every refusal of the rules must be one a client can act on.
func wireReason(reason string) bool {
	return reason != "" && slices.Contains(proto.Reasons(), proto.Reason(reason))
}

// eventName names an event in the deliveries tests compare.
func eventName(e Event) string { return fmt.Sprintf("%T", e) }

// seatOf fails the test unless userID sits on index.
func (f *fixture) wantSeat(userID string, index int) {
	f.t.Helper()
	if got := f.room.SeatOf(userID); got != index {
		f.t.Fatalf("SeatOf(%s) = %d, want %d", userID, got, index)
	}
}

// expect compares deliveries with want, ignoring the SeatChanged's seats
// list (checked separately against Seats()) but not its joined/left entries.
func expect(t *testing.T, r *Room, got []Delivery, want ...Delivery) {
	t.Helper()
	norm := func(ds []Delivery) []string {
		var out []string
		for _, d := range ds {
			if sc, ok := d.Event.(SeatChanged); ok {
				if sc.Joined == nil || sc.Left == nil {
					t.Fatalf("SeatChanged with a nil joined/left list: %+v", sc)
				}
				if sc.Seats != nil && !reflect.DeepEqual(sc.Seats, r.Seats()) {
					t.Fatalf("SeatChanged seats %+v differ from Seats() %+v", sc.Seats, r.Seats())
				}
				sc.Seats = nil
				d.Event = sc
			}
			if re, ok := d.Event.(RequestEnded); ok {
				re.Request = Request{RequestID: re.Request.RequestID, Kind: re.Request.Kind}
				d.Event = re
			}
			out = append(out, fmt.Sprintf("%d|%s|%s|%s|%s", d.To, d.UserID, d.Except, eventName(d.Event), show(d.Event)))
		}
		return out
	}
	g, w := norm(got), norm(want)
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("deliveries:\n got  %q\n want %q", g, w)
	}
}

// show prints an event with pointers followed.
func show(e Event) string {
	switch ev := e.(type) {
	case ApplicationResponded:
		seat := "nil"
		if ev.SeatIndex != nil {
			seat = fmt.Sprint(*ev.SeatIndex)
		}
		return fmt.Sprintf("accepted=%v host=%s seat=%s", ev.Accepted, ev.Host.UserID, seat)
	case SeatChanged:
		return fmt.Sprintf("joined=%+v left=%+v", ev.Joined, ev.Left)
	case SeatKicked:
		return fmt.Sprintf("seat=%d by=%s", ev.SeatIndex, who(ev.By))
	case KickedOut:
		return "by=" + who(ev.By)
	}
	return fmt.Sprintf("%+v", e)
}

// who names an actor; nil is the server API.
func who(u *User) string {
	if u == nil {
		return "<service>"
	}
	return fmt.Sprintf("%+v", *u)
}

func intp(i int) *int    { return &i }
func boolp(b bool) *bool { return &b }

// Shorthand deliveries for the expectations.
func toUser(id string, e Event) Delivery { return Delivery{To: OneUser, UserID: id, Event: e} }
func toHosts(except string, e Event) Delivery {
	return Delivery{To: Hosts, Except: except, Event: e}
}
func toAll(e Event) Delivery { return Delivery{To: Everyone, Event: e} }
func ended(id string, kind RequestKind, o Outcome) Delivery {
	return Delivery{To: Internal, Event: RequestEnded{Request: Request{RequestID: id, Kind: kind}, Outcome: o}}
}
func changed(joined []SeatJoin, left []SeatLeave) Delivery {
	if joined == nil {
		joined = []SeatJoin{}
	}
	if left == nil {
		left = []SeatLeave{}
	}
	return toAll(SeatChanged{Joined: joined, Left: left})
}

// --- a deep, pointer-free picture of the whole state ---

type memberDump struct {
	User      User
	Seq       uint64
	Seat      int
	Connected bool
	Grace     time.Time
	Request   string
	Invites   []string
}

type deadlineDump struct {
	At   time.Time
	Seq  uint64
	What string
}

// rosterDump and seatDump are plain values rather than formatted strings:
// dump runs before every fuzzed operation, and formatting was half its cost.
type rosterDump struct {
	UserID string
	Seq    uint64
	Gone   bool
}

type seatDump struct {
	Occupant                         string
	Locked, AudioLocked, VideoLocked bool
	AudioMuted, VideoMuted           bool
	AudioPublishing, VideoPublishing bool
}

type stateDump struct {
	Ended     bool
	Members   []memberDump
	Roster    []rosterDump
	RosterSeq uint64
	Banned    []string
	Seats     []Seat
	SeatState []seatDump
	Pending   []Request
	LastReqID uint64
	Deadlines []deadlineDump
	DeadSeq   uint64
}

func dump(r *Room) stateDump {
	s := stateDump{Ended: r.ended, RosterSeq: r.roster.lastSeq, Seats: r.Seats(), LastReqID: r.lastReqID, DeadSeq: r.deadlines.lastSeq}
	for _, m := range r.members {
		md := memberDump{User: m.user, Seq: m.seq, Seat: m.seat, Connected: m.connected}
		if m.grace != nil {
			md.Grace = m.grace.at
		}
		if m.request != nil {
			md.Request = m.request.wire.RequestID
		}
		for id, q := range m.invites {
			md.Invites = append(md.Invites, id+"="+q.wire.RequestID)
		}
		sort.Strings(md.Invites)
		s.Members = append(s.Members, md)
	}
	sort.Slice(s.Members, func(i, j int) bool { return s.Members[i].User.UserID < s.Members[j].User.UserID })
	for _, m := range r.roster.list {
		s.Roster = append(s.Roster, rosterDump{m.user.UserID, m.seq, m.gone})
	}
	for id := range r.banned {
		s.Banned = append(s.Banned, id)
	}
	sort.Strings(s.Banned)
	for _, st := range r.seats {
		who := ""
		if st.occupant != nil {
			who = st.occupant.user.UserID
		}
		s.SeatState = append(s.SeatState, seatDump{who, st.locked, st.audioLocked, st.videoLocked,
			st.audioMuted, st.videoMuted, st.audioPublishing, st.videoPublishing})
	}
	for q := r.pending.first; q != nil; q = q.next {
		s.Pending = append(s.Pending, q.view())
	}
	for _, d := range r.deadlines.items {
		dd := deadlineDump{At: d.at, Seq: d.seq}
		if d.request != nil {
			dd.What = "request " + d.request.wire.RequestID
		} else {
			dd.What = "grace " + d.member.user.UserID
		}
		s.Deadlines = append(s.Deadlines, dd)
	}
	sort.Slice(s.Deadlines, func(i, j int) bool { return s.Deadlines[i].Seq < s.Deadlines[j].Seq })
	return s
}

// checkInvariants verifies the state's own consistency: the rules that must
// hold after every operation, whatever happened before.
func checkInvariants(r *Room) error {
	if r.ended {
		if len(r.members) != 0 || r.pending.n != 0 || r.deadlines.len() != 0 {
			return fmt.Errorf("ended room still holds %d members, %d requests, %d deadlines",
				len(r.members), r.pending.n, r.deadlines.len())
		}
		for i, s := range r.seats {
			if s.occupant != nil {
				return fmt.Errorf("ended room still seats %s on %d", s.occupant.user.UserID, i)
			}
		}
		return nil
	}
	if r.seats[0].occupant != r.owner || r.owner.seat != 0 || r.members[r.owner.user.UserID] != r.owner {
		return fmt.Errorf("seat 0 is not the owner's")
	}
	seated := 0
	holders := map[string]int{}
	for i, s := range r.seats {
		if s.occupant == nil {
			if s.audioPublishing || s.videoPublishing || s.audioMuted || s.videoMuted {
				return fmt.Errorf("empty seat %d keeps an occupant's media state", i)
			}
			continue
		}
		seated++
		id := s.occupant.user.UserID
		if prev, dup := holders[id]; dup {
			return fmt.Errorf("%s holds seats %d and %d", id, prev, i)
		}
		holders[id] = i
		if r.members[id] != s.occupant || s.occupant.seat != i {
			return fmt.Errorf("seat %d's occupant %s is not a member sitting there", i, id)
		}
		if s.locked {
			return fmt.Errorf("locked seat %d is occupied", i)
		}
		if (s.audioLocked && !s.audioMuted) || (s.videoLocked && !s.videoMuted) {
			return fmt.Errorf("seat %d has a locked kind that is not muted", i)
		}
	}
	// What a seat shows agrees with what the media layer may forward:
	// "on" only while forwarding is allowed, closedByAdmin exactly while
	// the kind's lock is set.
	for i, v := range r.Seats() {
		who, audio, video := r.Allowed(i)
		if (v.User == nil) != (who == "") || (v.User != nil && v.User.UserID != who) {
			return fmt.Errorf("seat %d shows %+v but Allowed names %q", i, v.User, who)
		}
		for _, k := range []struct {
			dev             Device
			locked, allowed bool
		}{{v.Microphone, v.AudioLocked, audio}, {v.Camera, v.VideoLocked, video}} {
			if (k.dev == DeviceOn && !k.allowed) || (k.dev == DeviceClosedByAdmin) != k.locked || (k.allowed && k.locked) {
				return fmt.Errorf("seat %d shows %s (locked %v) but forwarding allowed=%v", i, k.dev, k.locked, k.allowed)
			}
		}
	}
	if seated > r.cfg.MaxSeats {
		return fmt.Errorf("%d seated > %d seats", seated, r.cfg.MaxSeats)
	}
	if r.cfg.MaxMembers > 0 && len(r.members) > r.cfg.MaxMembers {
		return fmt.Errorf("%d members > cap %d", len(r.members), r.cfg.MaxMembers)
	}
	if r.cfg.MaxPending > 0 && r.pending.n > r.cfg.MaxPending {
		return fmt.Errorf("%d pending requests > cap %d", r.pending.n, r.cfg.MaxPending)
	}
	timers := 0
	for id, m := range r.members {
		if _, banned := r.banned[id]; banned {
			return fmt.Errorf("banned %s is a member", id)
		}
		if m.seat != NoSeat && r.seats[m.seat].occupant != m {
			return fmt.Errorf("%s thinks it sits on %d", id, m.seat)
		}
		if m.connected == (m.grace != nil) {
			return fmt.Errorf("%s: connected=%v with grace deadline %v", id, m.connected, m.grace != nil)
		}
		if m.grace != nil {
			timers++
		}
		if m.request != nil && m.request.subject != m {
			return fmt.Errorf("%s's request %s has another subject", id, m.request.wire.RequestID)
		}
		for invitee, q := range m.invites {
			if q.inviter != m || q.subject.user.UserID != invitee {
				return fmt.Errorf("%s's invitation %s is misfiled", id, q.wire.RequestID)
			}
		}
	}
	n, lastSeq := 0, uint64(0)
	ids := map[string]bool{}
	for q := r.pending.first; q != nil; q = q.next {
		n++
		if q.seq <= lastSeq || ids[q.wire.RequestID] {
			return fmt.Errorf("pending list out of creation order at %s", q.wire.RequestID)
		}
		lastSeq = q.seq
		ids[q.wire.RequestID] = true
		subj := q.subject.user.UserID
		if r.members[subj] != q.subject || q.subject.request != q {
			return fmt.Errorf("request %s outlives or lost its subject %s", q.wire.RequestID, subj)
		}
		if q.subject.seat != NoSeat {
			return fmt.Errorf("request %s is pending for seated %s", q.wire.RequestID, subj)
		}
		if q.wire.Kind == KindInvite {
			inv := q.inviter
			if r.members[inv.user.UserID] != inv || inv.invites[subj] != q || !inv.user.Role.IsHost() {
				return fmt.Errorf("invitation %s outlives its inviter", q.wire.RequestID)
			}
		} else if q.inviter != nil {
			return fmt.Errorf("application %s has an inviter", q.wire.RequestID)
		}
		if (q.wire.ExpiresAt != 0) != (q.timer != nil) || (q.timer != nil && q.timer.index < 0) {
			return fmt.Errorf("request %s: expiresAt %d but timer %v", q.wire.RequestID, q.wire.ExpiresAt, q.timer)
		}
		if q.timer != nil {
			timers++
		}
	}
	if n != r.pending.n {
		return fmt.Errorf("pending list holds %d, count says %d", n, r.pending.n)
	}
	if timers != r.deadlines.len() {
		return fmt.Errorf("%d live deadlines but the heap holds %d", timers, r.deadlines.len())
	}
	for i, d := range r.deadlines.items {
		if d.index != i {
			return fmt.Errorf("deadline heap index broken at %d", i)
		}
	}
	return nil
}
