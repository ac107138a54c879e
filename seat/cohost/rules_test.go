package cohost

import (
	"testing"
	"time"
)

func TestRequestAcceptMakesAConnection(t *testing.T) {
	f := newFixture(t, 4)
	id, ds := f.request("A", "B")
	wantDeliveries(t, ds, []Delivery{toOwner("B", RequestReceived{Request: Request{
		RequestID: id, FromRoom: "A", FromHost: host("A"), ToRoom: "B", ExtraInfo: "hi",
		ExpiresAt: f.clock.now.Add(10 * time.Second),
	}})})
	ds = f.accept("B", id)
	req := Request{RequestID: id, FromRoom: "A", FromHost: host("A"), ToRoom: "B", ExtraInfo: "hi", ExpiresAt: f.clock.now.Add(10 * time.Second)}
	wantDeliveries(t, ds, []Delivery{
		toOwner("A", RequestResponded{RequestID: id, Accepted: true}),
		{To: Internal, Event: RequestEnded{Request: req, Outcome: OutcomeAccepted}},
		{To: Internal, Event: ConnectionStarted{Rooms: []string{"A", "B"}}},
		toRooms(Changed{Rooms: members("A", "B")}, "A", "B"),
	})
	f.wantConn("B", "A", "B")
	if f.c.Connections() != 1 || f.c.Pending() != 0 {
		t.Fatalf("connections %d pending %d", f.c.Connections(), f.c.Pending())
	}
}

func TestEveryRequestEndTellsTheRightSide(t *testing.T) {
	cases := []struct {
		name    string
		end     func(f *fixture, id string) []Delivery
		outcome Outcome
		want    func(id string) []Delivery
	}{
		{"reject", func(f *fixture, id string) []Delivery {
			ds, err := f.c.Reject("B", id)
			if err != nil {
				t.Fatal(err)
			}
			return ds
		}, OutcomeRejected, func(id string) []Delivery {
			return []Delivery{toOwner("A", RequestResponded{RequestID: id})}
		}},
		{"cancel", func(f *fixture, id string) []Delivery {
			ds, err := f.c.Cancel("A", id)
			if err != nil {
				t.Fatal(err)
			}
			return ds
		}, OutcomeCancelled, func(id string) []Delivery {
			return []Delivery{toOwner("B", RequestCancelled{RequestID: id, Reason: "cancelled"})}
		}},
		{"timeout", func(f *fixture, id string) []Delivery {
			f.clock.Advance(10*time.Second - time.Millisecond)
			if ds := f.c.Tick(); len(ds) != 0 {
				t.Fatalf("fired early: %v", ds)
			}
			f.clock.Advance(time.Millisecond)
			return f.c.Tick()
		}, OutcomeTimeout, func(id string) []Delivery {
			return []Delivery{
				toOwner("A", RequestCancelled{RequestID: id, Reason: "timeout"}),
				toOwner("B", RequestCancelled{RequestID: id, Reason: "timeout"}),
			}
		}},
		{"target room ended", func(f *fixture, id string) []Delivery { return f.c.RoomEnded("B") },
			OutcomeRoomEnded, func(id string) []Delivery {
				return []Delivery{toOwner("A", RequestCancelled{RequestID: id, Reason: "room_ended"})}
			}},
		{"requesting room ended", func(f *fixture, id string) []Delivery { return f.c.RoomEnded("A") },
			OutcomeRoomEnded, func(id string) []Delivery {
				return []Delivery{toOwner("B", RequestCancelled{RequestID: id, Reason: "room_ended"})}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 4)
			id, _ := f.request("A", "B")
			at, ok := f.c.NextDeadline()
			if !ok || !at.Equal(f.clock.now.Add(10*time.Second)) {
				t.Fatalf("NextDeadline = %v %v", at, ok)
			}
			ds := tc.end(f, id)
			want := tc.want(id)
			if len(ds) != len(want)+1 {
				t.Fatalf("deliveries %v", ds)
			}
			wantDeliveries(t, ds[:len(want)], want)
			if e := ended(ds); len(e) != 1 || e[0].Outcome != tc.outcome || e[0].Request.RequestID != id {
				t.Fatalf("RequestEnded = %v", e)
			}
			// Exactly once: nothing else ends it.
			if _, ok := f.c.NextDeadline(); ok {
				t.Fatal("a deadline is left")
			}
			f.clock.Advance(time.Minute)
			if ds := f.c.Tick(); len(ds) != 0 {
				t.Fatalf("ended twice: %v", ds)
			}
			for _, try := range []func() error{
				func() error { _, err := f.c.Accept("B", host("B"), id); return err },
				func() error { _, err := f.c.Reject("B", id); return err },
				func() error { _, err := f.c.Cancel("A", id); return err },
			} {
				wantErr(t, try(), ErrRequestNotFound)
			}
			if ds := f.c.RoomEnded("A"); len(ds) != 0 {
				t.Fatalf("room end after the request ended: %v", ds)
			}
			if len(f.c.rooms) != 0 {
				t.Fatalf("rooms kept: %v", f.c.rooms)
			}
		})
	}
}

func TestOnlyTheRightPartyAnswers(t *testing.T) {
	f := newFixture(t, 4)
	id, _ := f.request("A", "B")
	_, err := f.c.Accept("A", host("A"), id) // the requester cannot accept its own
	wantErr(t, err, ErrRequestNotFound)
	_, err = f.c.Reject("C", id)
	wantErr(t, err, ErrRequestNotFound)
	_, err = f.c.Cancel("B", id) // the target cannot cancel
	wantErr(t, err, ErrRequestNotFound)
	_, err = f.c.Accept("B", host("B"), "nope")
	wantErr(t, err, ErrRequestNotFound)
	if f.c.Pending() != 1 {
		t.Fatal("a refused answer ended the request")
	}
}

func TestRequestErrors(t *testing.T) {
	cases := []struct {
		name     string
		setup    func(f *fixture)
		from, to string
		timeout  int
		extra    int
		want     *Error
	}{
		{"self", nil, "A", "A", 10, 0, ErrCohostSelf},
		{"timeout too long", nil, "A", "B", 61, 0, ErrInvalidParams},
		{"negative timeout", nil, "A", "B", -1, 0, ErrInvalidParams},
		{"extraInfo too long", nil, "A", "B", 10, MaxExtraInfo + 1, ErrInvalidParams},
		{"conflict same way", func(f *fixture) { f.request("A", "B") }, "A", "B", 10, 0, ErrRequestConflict},
		{"conflict other way (simultaneous)", func(f *fixture) { f.request("B", "A") }, "A", "B", 10, 0, ErrRequestConflict},
		{"target busy", func(f *fixture) { f.connect("B", "C") }, "A", "B", 10, 0, ErrCohostBusy},
		{"already connected", func(f *fixture) { f.connect("A", "B") }, "A", "B", 10, 0, ErrAlreadyConnected},
		{"already connected, from the other", func(f *fixture) { f.connect("A", "B") }, "B", "A", 10, 0, ErrAlreadyConnected},
		{"requester's connection full", func(f *fixture) { f.connect("A", "B") }, "A", "C", 10, 0, ErrCohostBusy},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 2)
			if tc.setup != nil {
				tc.setup(f)
			}
			pending, conns := f.c.Pending(), f.c.Connections()
			extra := string(make([]byte, tc.extra))
			_, ds, err := f.c.Request(tc.from, host(tc.from), tc.to, tc.timeout, extra)
			wantErr(t, err, tc.want)
			if ds != nil || f.c.Pending() != pending || f.c.Connections() != conns {
				t.Fatal("a refused request changed the state")
			}
		})
	}
	t.Run("default timeout", func(t *testing.T) {
		f := newFixture(t, 2)
		_, ds, err := f.c.Request("A", host("A"), "B", 0, "")
		if err != nil {
			t.Fatal(err)
		}
		if got := ds[0].Event.(RequestReceived).Request.ExpiresAt; !got.Equal(f.clock.now.Add(10 * time.Second)) {
			t.Fatalf("expiresAt %v", got)
		}
	})
}

func TestAThirdRoomJoinsAndFullIsBusy(t *testing.T) {
	f := newFixture(t, 3)
	f.connect("A", "B")
	// A connected room's owner requests a free room: it joins on accept.
	id, _ := f.request("B", "C")
	ds := f.accept("C", id)
	wantDeliveries(t, ds[2:], []Delivery{toRooms(Changed{Rooms: members("A", "B", "C")}, "A", "B", "C")})
	// Full: requests from it and accepts into it are cohost_busy.
	_, _, err := f.c.Request("C", host("C"), "D", 10, "")
	wantErr(t, err, ErrCohostBusy)
	id2, _ := f.request("D", "E")
	_ = id2
	// D requested E earlier; free rooms. Now a free room asks a member: busy.
	_, _, err = f.c.Request("D", host("D"), "A", 10, "")
	wantErr(t, err, ErrCohostBusy)
}

func TestAcceptIntoAFullConnectionStaysPending(t *testing.T) {
	f := newFixture(t, 2)
	id, _ := f.request("A", "C") // C free
	f.connect("B", "C")          // C is now connected, connection full
	_, err := f.c.Accept("C", host("C"), id)
	wantErr(t, err, ErrCohostBusy)
	if f.c.Pending() != 1 {
		t.Fatal("failed accept ended the request")
	}
	// The target connected meanwhile, the requester is free: it joins the
	// target's connection once there is room.
	f2 := newFixture(t, 3)
	id, _ = f2.request("A", "C")
	f2.connect("B", "C")
	f2.accept("C", id)
	f2.wantConn("A", "B", "C", "A")
}

func TestBothConnectedElsewhereIsBusy(t *testing.T) {
	f := newFixture(t, 4)
	id, _ := f.request("A", "C")
	f.connect("A", "B")
	f.connect("C", "D")
	_, err := f.c.Accept("C", host("C"), id)
	wantErr(t, err, ErrCohostBusy)
}

func TestRequestSupersededWhenRoomsMeetAnotherWay(t *testing.T) {
	f := newFixture(t, 4)
	ab, _ := f.request("A", "B")
	ac, _ := f.request("A", "C")
	f.accept("C", ac)
	cb, _ := f.request("C", "B")
	ds := f.accept("B", cb)
	f.wantConn("A", "A", "C", "B")
	e := ended(ds)
	if len(e) != 2 || e[1].Request.RequestID != ab || e[1].Outcome != OutcomeSuperseded {
		t.Fatalf("ended %v", e)
	}
	if f.c.Pending() != 0 {
		t.Fatal("superseded request still pending")
	}
}

func TestLeave(t *testing.T) {
	f := newFixture(t, 4)
	_, err := f.c.Leave("A")
	wantErr(t, err, ErrNotConnected)
	f.connect("A", "B", "C")
	ds, err := f.c.Leave("B")
	if err != nil {
		t.Fatal(err)
	}
	wantDeliveries(t, ds, []Delivery{
		toRooms(Changed{Rooms: []Member{}}, "B"),
		toRooms(Changed{Rooms: members("A", "C")}, "A", "C"),
	})
	ds, _ = f.c.Leave("C")
	wantDeliveries(t, ds, []Delivery{
		{To: Internal, Event: ConnectionEnded{Rooms: []string{"A", "C"}, Reason: "left"}},
		toRooms(Changed{Rooms: []Member{}}, "C", "A"),
	})
	if f.c.Connections() != 0 || len(f.c.rooms) != 0 {
		t.Fatalf("connections %d rooms %v", f.c.Connections(), f.c.rooms)
	}
}

func TestRoomEndedLeavesItsConnection(t *testing.T) {
	f := newFixture(t, 4)
	f.connect("A", "B", "C")
	id, _ := f.request("A", "D")
	bid, _, err := f.c.StartBattle("A", 60)
	if err != nil {
		t.Fatal(err)
	}
	ds := f.c.RoomEnded("A")
	want := []Delivery{
		toOwner("D", RequestCancelled{RequestID: id, Reason: "room_ended"}),
	}
	wantDeliveries(t, ds[:1], want)
	if e := ended(ds); len(e) != 1 || e[0].Outcome != OutcomeRoomEnded {
		t.Fatalf("ended %v", e)
	}
	wantDeliveries(t, ds[2:], []Delivery{
		toRooms(BattleEnded{BattleID: bid, Scores: map[string]int64{"A": 0, "B": 0, "C": 0},
			Winners: []string{"A", "B", "C"}, Reason: "connection_ended"}, "A", "B", "C"),
		toRooms(Changed{Rooms: []Member{}}, "A"),
		toRooms(Changed{Rooms: members("B", "C")}, "B", "C"),
	})
	f.wantConn("B", "B", "C")
	if _, ok := f.c.NextDeadline(); ok {
		t.Fatal("a deadline outlived the room")
	}
	// C ending leaves B alone: the connection ends, for that reason.
	ds = f.c.RoomEnded("C")
	wantDeliveries(t, ds, []Delivery{
		{To: Internal, Event: ConnectionEnded{Rooms: []string{"B", "C"}, Reason: "room_ended"}},
		toRooms(Changed{Rooms: []Member{}}, "C", "B"),
	})
}
