package seat

import (
	"errors"
	"reflect"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// restoreLike rebuilds r from its export with r's own process settings.
func restoreLike(r *Room, st State) (*Room, error) {
	return Restore(st, Config{Grace: r.cfg.Grace, MaxMembers: r.cfg.MaxMembers, Clock: r.cfg.Clock})
}

// comparable drops what a restore may legitimately forget: members that
// already left but still sat in the roster's backing slice.
func comparable(d stateDump) stateDump {
	kept := d.Roster[:0:0]
	for _, e := range d.Roster {
		if !e.Gone {
			kept = append(kept, e)
		}
	}
	d.Roster = kept
	return d
}

// TestExportRestoreProperty runs the random operation machine and, at
// random points, replaces the room by the one restored from its export.
// The restored room must equal the original in every observable part
// (seats, members and their join order, bans, pending requests, every
// deadline with its instant and tie order, the id counters), satisfy the
// invariants, export to the same State, and then carry on: the machine
// keeps checking every later operation and notification against it.
func TestExportRestoreProperty(t *testing.T) {
	var swaps atomic.Int64
	rapid.Check(t, func(t *rapid.T) {
		src := rapidSource{t}
		m, err := newMachine(src)
		if err != nil {
			t.Fatal(err)
		}
		for range opsPerRun {
			if err := m.step(src); err != nil {
				t.Fatalf("after %d ops: %v", m.ops, err)
			}
			if m.room.ended || src.intn("swap", 8) != 0 {
				continue
			}
			st, ok := m.room.Export()
			if !ok {
				t.Fatal("a live room exported nothing")
			}
			back, err := restoreLike(m.room, st)
			if err != nil {
				t.Fatalf("after %d ops, Restore refused an export: %v\n%+v", m.ops, err, st)
			}
			if want, got := comparable(dump(m.room)), comparable(dump(back)); !reflect.DeepEqual(want, got) {
				t.Fatalf("after %d ops the restored room differs:\nwant %+v\ngot  %+v", m.ops, want, got)
			}
			if err := checkInvariants(back); err != nil {
				t.Fatalf("restored room breaks an invariant: %v", err)
			}
			if again, _ := back.Export(); !reflect.DeepEqual(again, st) {
				t.Fatalf("export of the restored room differs:\nwant %+v\ngot  %+v", st, again)
			}
			wantAt, wantOK := m.room.NextDeadline()
			if gotAt, gotOK := back.NextDeadline(); gotOK != wantOK || !gotAt.Equal(wantAt) {
				t.Fatalf("next deadline %v/%v, want %v/%v", gotAt, gotOK, wantAt, wantOK)
			}
			m.room = back
			swaps.Add(1)
		}
	})
	if swaps.Load() == 0 {
		t.Fatal("no room was ever restored")
	}
	t.Logf("%d restores", swaps.Load())
}

// TestRestoreKeepsDeadlines: a request timeout and a reconnect grace set
// before the export fire at their own instants after the restore, not a
// fresh timeout later.
func TestRestoreKeepsDeadlines(t *testing.T) {
	f := newFixture(t)
	_, _, err := f.room.Apply(aud1.UserID, NoSeat, 7, "")
	f.must(err)
	f.clock.Advance(2 * time.Second)
	_, err = f.room.Disconnect(aud2.UserID) // grace 10 s: ends at +12 s
	f.must(err)
	f.clock.Advance(time.Second) // +3 s

	st, _ := f.room.Export()
	r, err := restoreLike(f.room, st)
	f.must(err)

	f.clock.Advance(3999 * time.Millisecond) // +6.999 s: nothing due yet
	if ds := r.Tick(); len(ds) != 0 {
		t.Fatalf("a deadline fired early: %+v", ds)
	}
	f.clock.Advance(time.Millisecond) // +7 s: the application times out
	ds := r.Tick()
	if !hasEvent(ds, ApplicationNoResponse{Reason: ReasonTimeout}) {
		t.Fatalf("the application did not time out at its deadline: %+v", ds)
	}
	f.clock.Advance(5 * time.Second) // +12 s: the grace ends
	ds = r.Tick()
	if !hasEvent(ds, MemberLeft{User: aud2, Reason: LeftDisconnected}) {
		t.Fatalf("aud2's grace did not end at its deadline: %+v", ds)
	}
}

func hasEvent(ds []Delivery, want Event) bool {
	for _, d := range ds {
		if reflect.DeepEqual(d.Event, want) {
			return true
		}
	}
	return false
}

// TestRestoreRefusesInconsistentState: a state is input (it comes back from
// storage); each fault is refused with ErrInvalidParams, never a panic.
func TestRestoreRefusesInconsistentState(t *testing.T) {
	f := newFixture(t)
	_, _, err := f.room.Apply(aud1.UserID, NoSeat, 7, "")
	f.must(err)
	_, _, err = f.room.Take(adm1.UserID, 2)
	f.must(err)
	_, err = f.room.KickOut(owner.UserID, aud3.UserID)
	f.must(err)
	good, _ := f.room.Export()

	cases := map[string]func(*State){
		"no owner":         func(s *State) { s.Members = s.Members[1:] },
		"two owners":       func(s *State) { s.Members[1].User.Role = RoleOwner },
		"unknown role":     func(s *State) { s.Members[2].User.Role = "king" },
		"repeated member":  func(s *State) { s.Members = append(s.Members, s.Members[1]) },
		"seq out of order": func(s *State) { s.Members[1].Seq, s.Members[2].Seq = s.Members[2].Seq, s.Members[1].Seq },
		"seat count":       func(s *State) { s.Seats = s.Seats[:2] },
		"ghost occupant":   func(s *State) { s.Seats[1].UserID = "ghost" },
		"seated twice":     func(s *State) { s.Seats[3].UserID = adm1.UserID },
		"owner unseated":   func(s *State) { s.Seats[0].UserID = "" },
		"locked occupied":  func(s *State) { s.Seats[2].Locked = true },
		"banned member":    func(s *State) { s.Banned = append(s.Banned, aud2.UserID) },
		"ghost applicant":  func(s *State) { s.Requests[0].Subject = "ghost" },
		"seated applicant": func(s *State) { s.Requests[0].Subject = adm1.UserID },
		"bad request seat": func(s *State) { s.Requests[0].Request.SeatIndex = 9 },
		"lost deadline":    func(s *State) { s.Requests[0].Deadline = time.Time{} },
		"grace no instant": func(s *State) { s.Members[3].Connected = false },
		"other room id":    func(s *State) { s.RoomID = "elsewhere" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			st, _ := f.room.Export()
			mutate(&st)
			_, err := Restore(st, Config{RoomID: good.RoomID, Grace: time.Second, Clock: f.clock})
			if !errors.Is(err, ErrInvalidParams) {
				t.Fatalf("Restore = %v, want invalid_params", err)
			}
		})
	}
	if _, err := Restore(good, Config{Clock: f.clock}); err != nil {
		t.Fatalf("the unmutated state is refused: %v", err)
	}
}

// TestRestoreOfRandomDamage: whatever one damaged field does, Restore either
// refuses it or builds a room that keeps every invariant.
func TestRestoreOfRandomDamage(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		src := rapidSource{t}
		m, err := newMachine(src)
		if err != nil {
			t.Fatal(err)
		}
		for range 60 {
			if err := m.step(src); err != nil {
				t.Fatal(err)
			}
		}
		st, ok := m.room.Export()
		if !ok {
			return
		}
		damage(src, &st)
		r, err := restoreLike(m.room, st)
		if err != nil {
			return
		}
		if err := checkInvariants(r); err != nil {
			t.Fatalf("Restore accepted a damaged state that breaks an invariant: %v\n%+v", err, st)
		}
	})
}

func damage(src source, st *State) {
	ids := []string{"", "o", "a1", "u1", "u2", "ghost"}
	id := func() string { return ids[src.intn("id", len(ids))] }
	n := func(k int) int { return src.intn("at", max(k, 1)) }
	switch src.intn("damage", 9) {
	case 0:
		if len(st.Seats) > 0 {
			st.Seats[n(len(st.Seats))].UserID = id()
		}
	case 1:
		if len(st.Members) > 0 {
			st.Members[n(len(st.Members))].User.Role = []Role{RoleOwner, RoleAdmin, RoleAudience, ""}[src.intn("role", 4)]
		}
	case 2:
		st.Banned = append(st.Banned, id())
	case 3:
		if len(st.Requests) > 0 {
			st.Requests[n(len(st.Requests))].Subject = id()
		}
	case 4:
		if len(st.Requests) > 0 {
			st.Requests[n(len(st.Requests))].Inviter = id()
		}
	case 5:
		if len(st.Seats) > 0 {
			s := &st.Seats[n(len(st.Seats))]
			s.Locked, s.AudioLocked, s.AudioMuted = !s.Locked, !s.AudioLocked, !s.AudioMuted
		}
	case 6:
		if len(st.Members) > 0 {
			mm := &st.Members[n(len(st.Members))]
			mm.Connected = !mm.Connected
		}
	case 7:
		st.MaxSeats = src.intn("maxSeats", MaxSeatsLimit+3)
	case 8:
		if len(st.Requests) > 0 {
			st.Requests[n(len(st.Requests))].Request.Kind = []RequestKind{KindApply, KindInvite, "x"}[src.intn("kind", 3)]
		}
	}
}

// TestDurableRestoreProperty: at random points the machine's room is
// replaced by the one restored from Durable. What the seats show, the
// pending requests, the bans and the id counters are the same; every member
// kept is exactly as it was (join sequence, connection, grace); every
// member left out held nothing; the restored room keeps the invariants,
// exports exactly the durable state, and the machine carries on with it.
func TestDurableRestoreProperty(t *testing.T) {
	var swaps, dropped atomic.Int64
	rapid.Check(t, func(t *rapid.T) {
		src := rapidSource{t}
		m, err := newMachine(src)
		if err != nil {
			t.Fatal(err)
		}
		for range opsPerRun {
			if err := m.step(src); err != nil {
				t.Fatalf("after %d ops: %v", m.ops, err)
			}
			if m.room.ended || src.intn("swap", 8) != 0 {
				continue
			}
			st, _ := m.room.Durable()
			back, err := restoreLike(m.room, st)
			if err != nil {
				t.Fatalf("after %d ops, Restore refused a durable state: %v\n%+v", m.ops, err, st)
			}
			want, got := dump(m.room), dump(back)
			if !reflect.DeepEqual(want.Seats, got.Seats) || !reflect.DeepEqual(want.SeatState, got.SeatState) ||
				!reflect.DeepEqual(want.Pending, got.Pending) || !reflect.DeepEqual(want.Banned, got.Banned) ||
				want.LastReqID != got.LastReqID || want.RosterSeq != got.RosterSeq || want.DeadSeq != got.DeadSeq {
				t.Fatalf("after %d ops the durable restore differs:\nwant %+v\ngot  %+v", m.ops, want, got)
			}
			kept := map[string]memberDump{}
			for _, md := range got.Members {
				kept[md.User.UserID] = md
			}
			for _, md := range want.Members {
				k, ok := kept[md.User.UserID]
				switch {
				case ok && !reflect.DeepEqual(k, md):
					t.Fatalf("member kept as %+v, was %+v", k, md)
				case !ok && (md.Seat != NoSeat || md.Request != "" || len(md.Invites) > 0 || md.User.Role == RoleOwner):
					t.Fatalf("durable state left out %+v, who holds something", md)
				case !ok:
					dropped.Add(1)
				}
			}
			if err := checkInvariants(back); err != nil {
				t.Fatalf("restored room breaks an invariant: %v", err)
			}
			if again, _ := back.Export(); !reflect.DeepEqual(again, st) {
				t.Fatalf("the restored room exports\n%+v\nwant\n%+v", again, st)
			}
			m.room = back
			swaps.Add(1)
		}
	})
	if swaps.Load() == 0 || dropped.Load() == 0 {
		t.Fatalf("%d restores dropped %d idle members: the property was not exercised", swaps.Load(), dropped.Load())
	}
	t.Logf("%d restores, %d idle members left out", swaps.Load(), dropped.Load())
}

// TestDurableIgnoresTheAudience: members who hold nothing are not in the
// durable state, so its size does not grow with the audience.
func TestDurableIgnoresTheAudience(t *testing.T) {
	f := newFixture(t)
	before, _ := f.room.Durable()
	for i := range 500 {
		f.join(user("viewer"+strconv.Itoa(i), RoleAudience))
	}
	after, _ := f.room.Durable()
	if len(after.Members) != len(before.Members) || len(after.Members) != 1 {
		t.Fatalf("durable members %d before and %d after 500 viewers joined, want the owner alone", len(before.Members), len(after.Members))
	}
	if after.LastMemberSeq != before.LastMemberSeq+500 {
		t.Fatalf("the join counter did not move: %d → %d", before.LastMemberSeq, after.LastMemberSeq)
	}
}
