package seat

import (
	"testing"
	"time"
)

// The tests in this file follow PROTOCOL.md §4, one test (or table) per rule,
// and name the rule they prove.

func TestRule1_OwnerHoldsSeatZeroUntilTheEnd(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Mode = ModeFree })
	f.wantSeat("owner", 0)
	f.refuse(ErrAlreadySeated, func() ([]Delivery, error) { _, ds, err := f.room.Take("owner", 1); return ds, err })
	f.refuse(ErrPermission, func() ([]Delivery, error) { return f.room.LeaveSeat("owner") })
	f.refuse(ErrPermission, func() ([]Delivery, error) { return f.room.Move("owner", 2) })
	f.refuse(ErrPermission, func() ([]Delivery, error) { return f.room.Kick("adm1", "owner") })
	f.refuse(ErrSeatIndexInvalid, func() ([]Delivery, error) { _, ds, err := f.room.Take("aud1", 0); return ds, err })
	f.refuse(ErrSeatIndexInvalid, func() ([]Delivery, error) { return f.room.Lock("owner", 0, boolp(true), nil, nil) })
	f.refuse(ErrOwnerCannotLeave, func() ([]Delivery, error) { return f.room.Leave("owner") })

	ds, err := f.room.End("owner")
	f.must(err)
	expect(t, f.room, ds,
		changed(nil, []SeatLeave{{User: owner, SeatIndex: 0, Reason: LeftRoomEnded}}),
		toAll(RoomEnded{Reason: EndedByOwner}))
	f.wantSeat("owner", NoSeat)
	if !f.room.Ended() {
		t.Fatal("room not ended after End")
	}
}

func TestRule1_AutoSeatIsTheLowestFreeUnlocked(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(f *fixture)
		want   int
		refuse *Error
	}{
		{"all free", func(f *fixture) {}, 1, nil},
		{"seat 1 taken", func(f *fixture) { f.take("adm2", 1) }, 2, nil},
		{"seat 1 locked", func(f *fixture) { f.lock(1, boolp(true), nil, nil) }, 2, nil},
		{"seat 1 audio-locked still counts as free", func(f *fixture) { f.lock(1, nil, boolp(true), nil) }, 1, nil},
		{"1 taken, 2 locked", func(f *fixture) { f.take("adm2", 1); f.lock(2, boolp(true), nil, nil) }, 3, nil},
		{"none free", func(f *fixture) {
			f.take("adm2", 1)
			f.lock(2, boolp(true), nil, nil)
			f.take("adm1", 3)
		}, 0, ErrSeatsFull},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.Mode = ModeFree })
			tc.setup(f)
			if tc.refuse != nil {
				f.refuse(tc.refuse, func() ([]Delivery, error) { _, ds, err := f.room.Take("aud1", NoSeat); return ds, err })
				return
			}
			got, ds, err := f.room.Take("aud1", NoSeat)
			f.must(err)
			if got != tc.want {
				t.Fatalf("Take(-1) = %d, want %d", got, tc.want)
			}
			expect(t, f.room, ds, changed([]SeatJoin{{User: aud1, SeatIndex: tc.want}}, nil))
		})
	}
}

func TestRule2_OnePendingRequestPerUser(t *testing.T) {
	apply := func(f *fixture, who string) { _, _, err := f.room.Apply(who, NoSeat, 0, ""); f.must(err) }
	invite := func(f *fixture, host, who string) { _, _, err := f.room.Invite(host, who, NoSeat, 0, ""); f.must(err) }
	cases := []struct {
		name  string
		setup func(f *fixture)
		op    func(f *fixture) ([]Delivery, error)
		want  *Error
	}{
		{"apply twice", func(f *fixture) { apply(f, "aud1") },
			func(f *fixture) ([]Delivery, error) { _, ds, err := f.room.Apply("aud1", 2, 0, ""); return ds, err },
			ErrAlreadyApplied},
		{"apply while invited", func(f *fixture) { invite(f, "adm1", "aud1") },
			func(f *fixture) ([]Delivery, error) {
				_, ds, err := f.room.Apply("aud1", NoSeat, 0, "")
				return ds, err
			},
			ErrRequestConflict},
		{"invite an applicant", func(f *fixture) { apply(f, "aud1") },
			func(f *fixture) ([]Delivery, error) {
				_, ds, err := f.room.Invite("adm1", "aud1", NoSeat, 0, "")
				return ds, err
			},
			ErrRequestConflict},
		{"second invitation, same host", func(f *fixture) { invite(f, "adm1", "aud1") },
			func(f *fixture) ([]Delivery, error) {
				_, ds, err := f.room.Invite("adm1", "aud1", 2, 0, "")
				return ds, err
			},
			ErrAlreadyApplied},
		{"second invitation, another host", func(f *fixture) { invite(f, "adm1", "aud1") },
			func(f *fixture) ([]Delivery, error) {
				_, ds, err := f.room.Invite("owner", "aud1", 2, 0, "")
				return ds, err
			},
			ErrAlreadyApplied},
		{"apply while seated", func(f *fixture) { f.take("adm1", 1) },
			func(f *fixture) ([]Delivery, error) {
				_, ds, err := f.room.Apply("adm1", NoSeat, 0, "")
				return ds, err
			},
			ErrAlreadySeated},
		{"take a second seat", func(f *fixture) { f.take("adm1", 1) },
			func(f *fixture) ([]Delivery, error) { _, ds, err := f.room.Take("adm1", 2); return ds, err },
			ErrAlreadySeated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.setup(f)
			f.refuse(tc.want, func() ([]Delivery, error) { return tc.op(f) })
		})
	}

	t.Run("a host may invite many users", func(t *testing.T) {
		f := newFixture(t)
		invite(f, "adm1", "aud1")
		invite(f, "adm1", "aud2")
		snap, _, err := f.room.Join(adm2)
		f.must(err)
		if len(snap.Requests) != 2 {
			t.Fatalf("host snapshot lists %d requests, want 2", len(snap.Requests))
		}
	})
}

func TestRule3_FirstHostAnswerWins(t *testing.T) {
	f := newFixture(t)
	id, ds, err := f.room.Apply("aud1", NoSeat, 5, "hello")
	f.must(err)
	req := Request{RequestID: id, Kind: KindApply, From: aud1, SeatIndex: NoSeat, ExtraInfo: "hello",
		ExpiresAt: f.clock.now.Add(5 * time.Second).UnixMilli()}
	expect(t, f.room, ds, toHosts("aud1", ApplicationReceived{Request: req}))
	if got := ds[0].Event.(ApplicationReceived).Request; got != req {
		t.Fatalf("ApplicationReceived carries %+v, want %+v", got, req)
	}

	seat, ds, err := f.room.AcceptApplication("adm1", "aud1")
	f.must(err)
	expect(t, f.room, ds,
		toUser("aud1", ApplicationResponded{Accepted: true, Host: adm1, SeatIndex: intp(1)}),
		toHosts("adm1", ApplicationProcessedByOtherHost{User: aud1, Host: adm1, Accepted: true}),
		ended(id, KindApply, OutcomeAccepted),
		changed([]SeatJoin{{User: aud1, SeatIndex: 1}}, nil))
	if seat != 1 {
		t.Fatalf("accepted into %d, want 1", seat)
	}
	f.refuse(ErrRequestNotFound, func() ([]Delivery, error) { _, ds, err := f.room.AcceptApplication("adm2", "aud1"); return ds, err })
	f.refuse(ErrRequestNotFound, func() ([]Delivery, error) { return f.room.RejectApplication("owner", "aud1") })

	t.Run("an admin's application goes to the other hosts only", func(t *testing.T) {
		f := newFixture(t)
		_, ds, err := f.room.Apply("adm2", 2, 0, "")
		f.must(err)
		if len(ds) != 1 || ds[0].To != Hosts || ds[0].Except != "adm2" {
			t.Fatalf("deliveries %+v, want one to hosts except adm2", ds)
		}
		f.refuse(ErrPermission, func() ([]Delivery, error) { _, ds, err := f.room.AcceptApplication("adm2", "adm2"); return ds, err })
	})
}

func TestRule4_AcceptIntoAnUnusableSeatKeepsTheRequestPending(t *testing.T) {
	cases := []struct {
		name  string
		index int
		setup func(f *fixture)
		want  *Error
	}{
		{"seat taken", 2, func(f *fixture) { f.take("adm2", 2) }, ErrSeatOccupied},
		{"seat locked", 2, func(f *fixture) { f.lock(2, boolp(true), nil, nil) }, ErrSeatLocked},
		{"no seat free for -1", NoSeat, func(f *fixture) {
			f.take("adm2", 1)
			f.lock(2, boolp(true), nil, nil)
		}, ErrSeatsFull},
	}
	for _, tc := range cases {
		for _, kind := range []RequestKind{KindApply, KindInvite} {
			t.Run(tc.name+"/"+string(kind), func(t *testing.T) {
				f := newFixture(t, func(c *Config) { c.MaxSeats = 3 })
				var id string
				var err error
				if kind == KindApply {
					id, _, err = f.room.Apply("aud1", tc.index, 0, "")
				} else {
					id, _, err = f.room.Invite("adm1", "aud1", tc.index, 0, "")
				}
				f.must(err)
				tc.setup(f)
				accept := func() ([]Delivery, error) {
					if kind == KindApply {
						_, ds, err := f.room.AcceptApplication("owner", "aud1")
						return ds, err
					}
					_, ds, err := f.room.AcceptInvitation("aud1", "adm1")
					return ds, err
				}
				f.refuse(tc.want, accept)
				snap, _, err := f.room.Join(owner)
				f.must(err)
				if len(snap.Requests) != 1 || snap.Requests[0].RequestID != id {
					t.Fatalf("request %s not pending after the failed accept: %+v", id, snap.Requests)
				}
				// Once a seat frees up the same request is accepted.
				for i := 1; i < 3; i++ {
					f.room.LeaveSeat("adm2")
					f.lock(i, boolp(false), nil, nil)
				}
				ds, err := accept()
				f.must(err)
				if f.room.SeatOf("aud1") == NoSeat || len(ds) == 0 {
					t.Fatalf("accept after freeing a seat did not seat aud1")
				}
			})
		}
	}
}

// TestRule5_EveryEndNotifiesBothSides covers each way a request ends, with
// the exact notifications of both sides and one RequestEnded.
func TestRule5_EveryEndNotifiesBothSides(t *testing.T) {
	const id = "req-1"
	// The timeout outlasts the 10 s grace, so a grace expiry ends it first.
	app := func(f *fixture) { _, _, err := f.room.Apply("aud1", NoSeat, 60, ""); f.must(err) }
	inv := func(f *fixture) { _, _, err := f.room.Invite("adm1", "aud1", 2, 60, ""); f.must(err) }
	timeout := func(f *fixture) []Delivery { f.clock.Advance(60 * time.Second); return f.room.Tick() }
	graceOut := func(f *fixture, who string) []Delivery {
		_, err := f.room.Disconnect(who)
		f.must(err)
		f.clock.Advance(10 * time.Second)
		return f.room.Tick()
	}
	cases := []struct {
		name   string
		free   bool
		create func(*fixture)
		end    func(*fixture) []Delivery
		want   []Delivery
	}{
		{"application accepted", false, app,
			func(f *fixture) []Delivery {
				_, ds, err := f.room.AcceptApplication("adm1", "aud1")
				f.must(err)
				return ds
			},
			[]Delivery{
				toUser("aud1", ApplicationResponded{Accepted: true, Host: adm1, SeatIndex: intp(1)}),
				toHosts("adm1", ApplicationProcessedByOtherHost{User: aud1, Host: adm1, Accepted: true}),
				ended(id, KindApply, OutcomeAccepted),
				changed([]SeatJoin{{User: aud1, SeatIndex: 1}}, nil),
			}},
		{"application rejected", false, app,
			func(f *fixture) []Delivery {
				ds, err := f.room.RejectApplication("owner", "aud1")
				f.must(err)
				return ds
			},
			[]Delivery{
				toUser("aud1", ApplicationResponded{Accepted: false, Host: owner}),
				toHosts("owner", ApplicationProcessedByOtherHost{User: aud1, Host: owner, Accepted: false}),
				ended(id, KindApply, OutcomeRejected),
			}},
		{"application cancelled", false, app,
			func(f *fixture) []Delivery { ds, err := f.room.CancelApplication("aud1"); f.must(err); return ds },
			[]Delivery{
				toHosts("aud1", ApplicationCancelled{User: aud1, Reason: ReasonCancelled}),
				ended(id, KindApply, OutcomeCancelled),
			}},
		{"application timed out", false, app, timeout,
			[]Delivery{
				toHosts("aud1", ApplicationCancelled{User: aud1, Reason: ReasonTimeout}),
				toUser("aud1", ApplicationNoResponse{Reason: ReasonTimeout}),
				ended(id, KindApply, OutcomeTimeout),
			}},
		{"applicant left", false, app,
			func(f *fixture) []Delivery { ds, err := f.room.Leave("aud1"); f.must(err); return ds },
			[]Delivery{
				toHosts("aud1", ApplicationCancelled{User: aud1, Reason: ReasonLeft}),
				ended(id, KindApply, OutcomeLeft),
				toHosts("", MemberLeft{User: aud1, Reason: LeftLeft}),
			}},
		{"applicant gone after the grace", false, app,
			func(f *fixture) []Delivery { return graceOut(f, "aud1") },
			[]Delivery{
				toHosts("aud1", ApplicationCancelled{User: aud1, Reason: ReasonLeft}),
				ended(id, KindApply, OutcomeLeft),
				toHosts("", MemberLeft{User: aud1, Reason: LeftDisconnected}),
			}},
		{"applicant kicked out", false, app,
			func(f *fixture) []Delivery { ds, err := f.room.KickOut("adm1", "aud1"); f.must(err); return ds },
			[]Delivery{
				toUser("aud1", KickedOut{By: &adm1}),
				toHosts("aud1", ApplicationCancelled{User: aud1, Reason: ReasonLeft}),
				ended(id, KindApply, OutcomeLeft),
				toHosts("", MemberLeft{User: aud1, Reason: LeftKicked}),
			}},
		{"applicant seated another way", true, app,
			func(f *fixture) []Delivery { _, ds, err := f.room.Take("aud1", 3); f.must(err); return ds },
			[]Delivery{
				changed([]SeatJoin{{User: aud1, SeatIndex: 3}}, nil),
				toHosts("aud1", ApplicationCancelled{User: aud1, Reason: ReasonAlreadySeated}),
				toUser("aud1", ApplicationNoResponse{Reason: ReasonAlreadySeated}),
				ended(id, KindApply, OutcomeAlreadySeated),
			}},
		{"application and the room ended", false, app,
			func(f *fixture) []Delivery { ds, err := f.room.End("owner"); f.must(err); return ds },
			[]Delivery{
				ended(id, KindApply, OutcomeRoomEnded),
				changed(nil, []SeatLeave{{User: owner, SeatIndex: 0, Reason: LeftRoomEnded}}),
				toAll(RoomEnded{Reason: EndedByOwner}),
			}},
		{"invitation accepted", false, inv,
			func(f *fixture) []Delivery {
				_, ds, err := f.room.AcceptInvitation("aud1", "adm1")
				f.must(err)
				return ds
			},
			[]Delivery{
				toUser("adm1", InvitationResponded{User: aud1, Accepted: true}),
				ended(id, KindInvite, OutcomeAccepted),
				changed([]SeatJoin{{User: aud1, SeatIndex: 2}}, nil),
			}},
		{"invitation rejected", false, inv,
			func(f *fixture) []Delivery {
				ds, err := f.room.RejectInvitation("aud1", "adm1")
				f.must(err)
				return ds
			},
			[]Delivery{
				toUser("adm1", InvitationResponded{User: aud1, Accepted: false}),
				ended(id, KindInvite, OutcomeRejected),
			}},
		{"invitation cancelled", false, inv,
			func(f *fixture) []Delivery {
				ds, err := f.room.CancelInvitation("adm1", "aud1")
				f.must(err)
				return ds
			},
			[]Delivery{
				toUser("aud1", InvitationCancelled{Host: adm1, Reason: ReasonCancelled}),
				ended(id, KindInvite, OutcomeCancelled),
			}},
		{"invitation timed out", false, inv, timeout,
			[]Delivery{
				toUser("adm1", InvitationNoResponse{User: aud1, Reason: ReasonTimeout}),
				toUser("aud1", InvitationCancelled{Host: adm1, Reason: ReasonTimeout}),
				ended(id, KindInvite, OutcomeTimeout),
			}},
		{"invitee left", false, inv,
			func(f *fixture) []Delivery { ds, err := f.room.Leave("aud1"); f.must(err); return ds },
			[]Delivery{
				toUser("adm1", InvitationNoResponse{User: aud1, Reason: ReasonLeft}),
				ended(id, KindInvite, OutcomeLeft),
				toHosts("", MemberLeft{User: aud1, Reason: LeftLeft}),
			}},
		{"inviter left", false, inv,
			func(f *fixture) []Delivery { ds, err := f.room.Leave("adm1"); f.must(err); return ds },
			[]Delivery{
				toUser("aud1", InvitationCancelled{Host: adm1, Reason: ReasonLeft}),
				ended(id, KindInvite, OutcomeLeft),
				toHosts("", MemberLeft{User: adm1, Reason: LeftLeft}),
			}},
		{"inviter gone after the grace", false, inv,
			func(f *fixture) []Delivery { return graceOut(f, "adm1") },
			[]Delivery{
				toUser("aud1", InvitationCancelled{Host: adm1, Reason: ReasonLeft}),
				ended(id, KindInvite, OutcomeLeft),
				toHosts("", MemberLeft{User: adm1, Reason: LeftDisconnected}),
			}},
		{"invitee seated another way", true, inv,
			func(f *fixture) []Delivery { _, ds, err := f.room.Take("aud1", 1); f.must(err); return ds },
			[]Delivery{
				changed([]SeatJoin{{User: aud1, SeatIndex: 1}}, nil),
				toUser("adm1", InvitationNoResponse{User: aud1, Reason: ReasonAlreadySeated}),
				toUser("aud1", InvitationCancelled{Host: adm1, Reason: ReasonAlreadySeated}),
				ended(id, KindInvite, OutcomeAlreadySeated),
			}},
		{"invitation and the room ended", false, inv,
			func(f *fixture) []Delivery { return f.room.Shutdown(ServerShutdown) },
			[]Delivery{
				ended(id, KindInvite, OutcomeRoomEnded),
				changed(nil, []SeatLeave{{User: owner, SeatIndex: 0, Reason: LeftRoomEnded}}),
				toAll(RoomEnded{Reason: ServerShutdown}),
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) {
				if tc.free {
					c.Mode = ModeFree
				}
			})
			tc.create(f)
			expect(t, f.room, tc.end(f), tc.want...)
			// It ended exactly once: nothing is left to end it again.
			if at, ok := f.room.NextDeadline(); ok {
				f.clock.Advance(time.Hour)
				if ds := f.room.Tick(); len(ds) != 0 {
					t.Fatalf("deadline %v still fired %+v after the request ended", at, ds)
				}
			}
			if _, member := f.room.Member("aud1"); member {
				f.refuse(ErrRequestNotFound, func() ([]Delivery, error) { return f.room.CancelApplication("aud1") })
				f.refuse(ErrRequestNotFound, func() ([]Delivery, error) { return f.room.RejectInvitation("aud1", "adm1") })
			}
		})
	}
}

func TestRule5_TimeoutsFireExactlyAtExpiresAt(t *testing.T) {
	f := newFixture(t)
	_, _, err := f.room.Apply("aud1", NoSeat, 3, "")
	f.must(err)
	_, _, err = f.room.Invite("owner", "aud2", NoSeat, 2, "")
	f.must(err)
	start := f.clock.now
	at, ok := f.room.NextDeadline()
	if !ok || !at.Equal(start.Add(2*time.Second)) {
		t.Fatalf("NextDeadline = %v %v, want %v", at, ok, start.Add(2*time.Second))
	}
	f.clock.Advance(2*time.Second - time.Millisecond)
	if ds := f.room.Tick(); len(ds) != 0 {
		t.Fatalf("Tick fired %+v before the deadline", ds)
	}
	f.clock.Advance(time.Millisecond)
	expect(t, f.room, f.room.Tick(),
		toUser("owner", InvitationNoResponse{User: aud2, Reason: ReasonTimeout}),
		toUser("aud2", InvitationCancelled{Host: owner, Reason: ReasonTimeout}),
		ended("req-2", KindInvite, OutcomeTimeout))
	if at, _ := f.room.NextDeadline(); !at.Equal(start.Add(3 * time.Second)) {
		t.Fatalf("NextDeadline = %v, want the application's %v", at, start.Add(3*time.Second))
	}
	// When Tick comes late, everything due fires, in deadline order; equal
	// deadlines fire in the order they were set.
	_, _, err = f.room.Invite("owner", "aud3", NoSeat, 1, "")
	f.must(err)
	f.clock.Advance(time.Hour)
	ds := f.room.Tick()
	var order []string
	for _, d := range ds {
		if e, ok := d.Event.(RequestEnded); ok {
			order = append(order, e.Request.RequestID)
		}
	}
	if len(order) != 2 || order[0] != "req-1" || order[1] != "req-3" {
		t.Fatalf("ended in order %v, want [req-1 req-3]", order)
	}
	if _, ok := f.room.NextDeadline(); ok {
		t.Fatal("a deadline is left after everything fired")
	}
}

func TestRule6_InvitingASeatedUserIsRefused(t *testing.T) {
	f := newFixture(t)
	f.take("adm2", 1)
	f.refuse(ErrAlreadySeated, func() ([]Delivery, error) { _, ds, err := f.room.Invite("adm1", "adm2", NoSeat, 0, ""); return ds, err })
	f.refuse(ErrAlreadySeated, func() ([]Delivery, error) {
		_, ds, err := f.room.Invite("adm1", "owner", NoSeat, 0, "")
		return ds, err
	})
}

func TestRule7_LockSeatKicksItsOccupant(t *testing.T) {
	f := newFixture(t)
	f.take("adm2", 2)
	ds, err := f.room.Lock("adm1", 2, boolp(true), nil, nil)
	f.must(err)
	expect(t, f.room, ds,
		toUser("adm2", SeatKicked{SeatIndex: 2, By: &adm1}),
		changed(nil, []SeatLeave{{User: adm2, SeatIndex: 2, Reason: LeftLocked}}))
	f.wantSeat("adm2", NoSeat)
	if !f.room.Seats()[2].Locked {
		t.Fatal("seat 2 is not locked")
	}
	f.refuse(ErrSeatLocked, func() ([]Delivery, error) { _, ds, err := f.room.Take("adm2", 2); return ds, err })
	f.take("adm1", 1)
	f.refuse(ErrSeatLocked, func() ([]Delivery, error) { return f.room.Move("adm1", 2) })
	// Locking again changes nothing and sends nothing.
	ds, err = f.room.Lock("adm1", 2, boolp(true), nil, nil)
	if err != nil || ds != nil {
		t.Fatalf("a no-op lock returned %+v, %v", ds, err)
	}
}

func TestRule7_MediaLocksAreTheHostsMute(t *testing.T) {
	f := newFixture(t)
	f.take("adm2", 1)
	_, err := f.room.SetPublishing("adm2", KindAudio, true)
	f.must(err)
	_, err = f.room.SetPublishing("adm2", KindVideo, true)
	f.must(err)
	wantDevices := func(mic, cam Device, audio, video bool) {
		t.Helper()
		s := f.room.Seats()[1]
		if s.Microphone != mic || s.Camera != cam {
			t.Fatalf("seat 1 shows microphone %s camera %s, want %s %s", s.Microphone, s.Camera, mic, cam)
		}
		u, a, v := f.room.Allowed(1)
		if u != "adm2" || a != audio || v != video {
			t.Fatalf("Allowed(1) = %s %v %v, want adm2 %v %v", u, a, v, audio, video)
		}
	}
	wantDevices(DeviceOn, DeviceOn, true, true)

	ds, err := f.room.Lock("owner", 1, nil, boolp(true), nil)
	f.must(err)
	expect(t, f.room, ds, changed(nil, nil))
	wantDevices(DeviceClosedByAdmin, DeviceOn, false, true)
	f.refuse(ErrPermission, func() ([]Delivery, error) { return f.room.SetMuted("adm2", KindAudio, false) })

	// Unlocking does not turn the microphone back on.
	ds, err = f.room.Lock("owner", 1, nil, boolp(false), nil)
	f.must(err)
	expect(t, f.room, ds, changed(nil, nil))
	wantDevices(DeviceOff, DeviceOn, false, true)
	ds, err = f.room.SetMuted("adm2", KindAudio, false)
	f.must(err)
	expect(t, f.room, ds, changed(nil, nil))
	wantDevices(DeviceOn, DeviceOn, true, true)

	// The lock belongs to the seat: the next occupant starts closed.
	ds, err = f.room.Lock("owner", 1, nil, nil, boolp(true))
	f.must(err)
	expect(t, f.room, ds, changed(nil, nil))
	wantDevices(DeviceOn, DeviceClosedByAdmin, true, false)
	_, err = f.room.LeaveSeat("adm2")
	f.must(err)
	f.take("adm1", 1)
	s := f.room.Seats()[1]
	if s.Camera != DeviceClosedByAdmin || s.Microphone != DeviceOff || !s.VideoLocked {
		t.Fatalf("new occupant of a video-locked seat shows %+v", s)
	}
	if _, _, video := f.room.Allowed(1); video {
		t.Fatal("video of a video-locked seat is allowed")
	}
}

func TestRule8_ReconnectGraceKeepsSeatAndRequests(t *testing.T) {
	f := newFixture(t)
	f.take("adm2", 1)
	_, err := f.room.SetPublishing("adm2", KindAudio, true)
	f.must(err)
	_, _, err = f.room.Invite("adm2", "aud1", NoSeat, 0, "")
	f.must(err)

	ds, err := f.room.Disconnect("adm2")
	f.must(err)
	expect(t, f.room, ds, changed(nil, nil)) // the microphone went off
	if at, ok := f.room.NextDeadline(); !ok || !at.Equal(f.clock.now.Add(10*time.Second)) {
		t.Fatalf("grace deadline %v %v", at, ok)
	}
	f.clock.Advance(9 * time.Second)
	if ds := f.room.Tick(); len(ds) != 0 {
		t.Fatalf("Tick inside the grace sent %+v", ds)
	}
	snap, ds, err := f.room.Join(adm2)
	f.must(err)
	if len(ds) != 0 {
		t.Fatalf("a resume sent %+v", ds)
	}
	if snap.Self != adm2 || len(snap.Requests) != 1 || f.room.SeatOf("adm2") != 1 {
		t.Fatalf("resume lost state: %+v", snap)
	}
	if _, ok := f.room.NextDeadline(); ok {
		t.Fatal("the grace deadline survived the resume")
	}

	// Past the grace the member leaves: seat, requests, membership.
	_, err = f.room.Disconnect("adm2")
	f.must(err)
	f.clock.Advance(10 * time.Second)
	expect(t, f.room, f.room.Tick(),
		toUser("aud1", InvitationCancelled{Host: adm2, Reason: ReasonLeft}),
		ended("req-1", KindInvite, OutcomeLeft),
		changed(nil, []SeatLeave{{User: adm2, SeatIndex: 1, Reason: LeftDisconnected}}),
		toHosts("", MemberLeft{User: adm2, Reason: LeftDisconnected}))
	if _, ok := f.room.Member("adm2"); ok {
		t.Fatal("adm2 is still a member after the grace")
	}
	// A later join is a new member.
	_, ds, err = f.room.Join(adm2)
	f.must(err)
	expect(t, f.room, ds, toHosts("adm2", MemberJoined{User: adm2}))
}

func TestRule8_OwnerAwayPastTheGraceEndsTheRoom(t *testing.T) {
	for _, grace := range []time.Duration{0, 10 * time.Second} {
		f := newFixture(t, func(c *Config) { c.Grace = grace })
		_, _, err := f.room.Apply("aud1", NoSeat, 0, "")
		f.must(err)
		ds, err := f.room.Disconnect("owner")
		f.must(err)
		if grace > 0 {
			if len(ds) != 0 {
				t.Fatalf("owner disconnect sent %+v", ds)
			}
			f.clock.Advance(grace)
			ds = f.room.Tick()
		}
		expect(t, f.room, ds,
			ended("req-1", KindApply, OutcomeRoomEnded),
			changed(nil, []SeatLeave{{User: owner, SeatIndex: 0, Reason: LeftRoomEnded}}),
			toAll(RoomEnded{Reason: OwnerTimeout}))
		if !f.room.Ended() || f.room.MemberCount() != 0 {
			t.Fatalf("grace %v: room not ended cleanly", grace)
		}
		f.refuse(ErrRoomNotFound, func() ([]Delivery, error) { _, ds, err := f.room.Join(aud2); return ds, err })
		if ds := f.room.Shutdown(ServerShutdown); ds != nil {
			t.Fatalf("second shutdown sent %+v", ds)
		}
	}
}

func TestRule9_TheServerDecidesWhoMay(t *testing.T) {
	f := newFixture(t)
	f.take("adm2", 1)
	perm := []struct {
		name string
		op   func() ([]Delivery, error)
	}{
		{"audience takes in apply mode", func() ([]Delivery, error) { _, ds, err := f.room.Take("aud1", 2); return ds, err }},
		{"audience accepts", func() ([]Delivery, error) { _, ds, err := f.room.AcceptApplication("aud1", "aud2"); return ds, err }},
		{"audience rejects", func() ([]Delivery, error) { return f.room.RejectApplication("aud1", "aud2") }},
		{"audience invites", func() ([]Delivery, error) { _, ds, err := f.room.Invite("aud1", "aud2", 2, 0, ""); return ds, err }},
		{"audience kicks", func() ([]Delivery, error) { return f.room.Kick("aud1", "adm2") }},
		{"audience locks", func() ([]Delivery, error) { return f.room.Lock("aud1", 2, boolp(true), nil, nil) }},
		{"audience kicks out", func() ([]Delivery, error) { return f.room.KickOut("aud1", "aud2") }},
		{"admin kicks out admin", func() ([]Delivery, error) { return f.room.KickOut("adm1", "adm2") }},
		{"admin kicks out the owner", func() ([]Delivery, error) { return f.room.KickOut("adm1", "owner") }},
		{"owner kicks itself out", func() ([]Delivery, error) { return f.room.KickOut("owner", "owner") }},
		{"owner applies", func() ([]Delivery, error) { _, ds, err := f.room.Apply("owner", 2, 0, ""); return ds, err }},
		{"admin ends the room", func() ([]Delivery, error) { return f.room.End("adm1") }},
		{"another owner token", func() ([]Delivery, error) {
			_, ds, err := f.room.Join(user("thief", RoleOwner))
			return ds, err
		}},
		{"the owner as audience", func() ([]Delivery, error) {
			_, ds, err := f.room.Join(user("owner", RoleAudience))
			return ds, err
		}},
	}
	for _, tc := range perm {
		t.Run(tc.name, func(t *testing.T) { f.refuse(ErrPermission, tc.op) })
	}
}

// take seats who on index, or fails the test.
func (f *fixture) take(who string, index int) {
	f.t.Helper()
	got, _, err := f.room.Take(who, index)
	if err != nil {
		f.t.Fatalf("Take(%s, %d): %v", who, index, err)
	}
	if index != NoSeat && got != index {
		f.t.Fatalf("Take(%s, %d) = %d", who, index, got)
	}
}

func (f *fixture) lock(index int, seat, audio, video *bool) {
	f.t.Helper()
	_, err := f.room.Lock("owner", index, seat, audio, video)
	f.must(err)
}
