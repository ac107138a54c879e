package seat

import (
	"fmt"
	"testing"
)

func TestJoinTellsHostsAndCapsMembership(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxMembers = 7 })
	newcomer := user("new", RoleAudience)
	snap, ds, err := f.room.Join(newcomer)
	f.must(err)
	expect(t, f.room, ds, toHosts("new", MemberJoined{User: newcomer}))
	if snap.Self != newcomer || snap.Room.MemberCount != 7 || len(snap.Seats) != 4 || snap.Requests == nil {
		t.Fatalf("snapshot %+v", snap)
	}
	f.refuse(ErrRoomFull, func() ([]Delivery, error) { _, ds, err := f.room.Join(user("late", RoleAudience)); return ds, err })
	// Resumes never count against the cap.
	_, err = f.room.Disconnect("aud1")
	f.must(err)
	_, ds, err = f.room.Join(aud1)
	f.must(err)
	if len(ds) != 0 {
		t.Fatalf("a resume sent %+v", ds)
	}
}

func TestKickOutBansAndFreesEverything(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Mode = ModeFree })
	f.take("aud1", 2)
	_, _, err := f.room.Invite("owner", "aud2", NoSeat, 0, "")
	f.must(err)
	ds, err := f.room.KickOut("owner", "aud1")
	f.must(err)
	expect(t, f.room, ds,
		toUser("aud1", KickedOut{By: &owner}),
		changed(nil, []SeatLeave{{User: aud1, SeatIndex: 2, Reason: LeftKicked}}),
		toHosts("", MemberLeft{User: aud1, Reason: LeftKicked}))
	f.refuse(ErrBanned, func() ([]Delivery, error) { _, ds, err := f.room.Join(aud1); return ds, err })

	// An admin kicked out takes its invitations with it.
	ds, err = f.room.KickOut("owner", "adm2")
	f.must(err)
	if len(ds) != 2 {
		t.Fatalf("kickOut of an idle admin sent %+v", ds)
	}
	_, _, err = f.room.Invite("adm1", "aud3", NoSeat, 0, "")
	f.must(err)
	ds, err = f.room.KickOut("owner", "adm1")
	f.must(err)
	expect(t, f.room, ds,
		toUser("adm1", KickedOut{By: &owner}),
		toUser("aud3", InvitationCancelled{Host: adm1, Reason: ReasonLeft}),
		ended("req-2", KindInvite, OutcomeLeft),
		toHosts("", MemberLeft{User: adm1, Reason: LeftKicked}))
}

func TestSnapshotShowsWhatConcernsTheCaller(t *testing.T) {
	f := newFixture(t)
	_, _, err := f.room.Apply("aud1", NoSeat, 0, "")
	f.must(err)
	_, _, err = f.room.Invite("adm1", "aud2", 2, 0, "")
	f.must(err)
	_, _, err = f.room.Apply("adm2", 3, 0, "")
	f.must(err)
	ids := func(s Snapshot) string {
		out := ""
		for _, q := range s.Requests {
			out += q.RequestID + " "
		}
		return out
	}
	for _, tc := range []struct {
		who  User
		want string
	}{
		{owner, "req-1 req-2 req-3 "},
		{adm1, "req-1 req-2 req-3 "},
		{aud1, "req-1 "},
		{aud2, "req-2 "},
		{aud3, ""},
	} {
		snap, _, err := f.room.Join(tc.who)
		f.must(err)
		if got := ids(snap); got != tc.want {
			t.Errorf("%s sees %q, want %q", tc.who.UserID, got, tc.want)
		}
	}
}

func TestMembersPagingListsEachStayingMemberOnce(t *testing.T) {
	f := newFixture(t)
	for i := range 20 {
		f.join(user(fmt.Sprintf("v%02d", i), RoleAudience))
	}
	seen := map[string]int{}
	cursor := ""
	for page := 0; ; page++ {
		users, next, err := f.room.Members("aud1", cursor, 4)
		f.must(err)
		for _, u := range users {
			seen[u.UserID]++
		}
		// Churn between pages: someone already listed and someone not yet
		// listed leave, newcomers join.
		if page == 1 {
			_, err := f.room.Leave("adm1")
			f.must(err)
			_, err = f.room.Leave("v15")
			f.must(err)
			f.join(user("late1", RoleAudience))
		}
		if next == "" {
			break
		}
		cursor = next
	}
	for _, id := range []string{"owner", "adm2", "aud1", "aud2", "aud3", "v00", "v14", "v16", "v19", "late1"} {
		if seen[id] != 1 {
			t.Errorf("%s listed %d times", id, seen[id])
		}
	}
	if seen["v15"] != 0 {
		t.Errorf("v15 left before its page but was listed")
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s listed %d times", id, n)
		}
	}
}

func TestSeatMovesKicksAndLeaves(t *testing.T) {
	f := newFixture(t)
	f.take("adm1", 1)
	_, err := f.room.SetPublishing("adm1", KindVideo, true)
	f.must(err)

	ds, err := f.room.Move("adm1", 3)
	f.must(err)
	expect(t, f.room, ds, changed(
		[]SeatJoin{{User: adm1, SeatIndex: 3}},
		[]SeatLeave{{User: adm1, SeatIndex: 1, Reason: LeftMoved}}))
	if s := f.room.Seats()[3]; s.Camera != DeviceOn || f.room.Seats()[1].User != nil {
		t.Fatalf("after the move seat 3 = %+v", s)
	}

	ds, err = f.room.Kick("adm2", "adm1")
	f.must(err)
	expect(t, f.room, ds,
		toUser("adm1", SeatKicked{SeatIndex: 3, By: &adm2}),
		changed(nil, []SeatLeave{{User: adm1, SeatIndex: 3, Reason: LeftKicked}}))

	f.take("adm2", NoSeat)
	ds, err = f.room.LeaveSeat("adm2")
	f.must(err)
	expect(t, f.room, ds, changed(nil, []SeatLeave{{User: adm2, SeatIndex: 1, Reason: LeftLeft}}))
	if _, ok := f.room.Member("adm2"); !ok {
		t.Fatal("leaving a seat left the room")
	}
}

func TestPublishingDrivesTheDeviceState(t *testing.T) {
	f := newFixture(t)
	for _, who := range []string{"nobody", "aud1"} {
		ds, err := f.room.SetPublishing(who, KindAudio, true)
		if ds != nil || err != nil {
			t.Fatalf("SetPublishing(%s) = %+v, %v; want it ignored", who, ds, err)
		}
	}
	ds, err := f.room.SetPublishing("owner", KindAudio, true)
	f.must(err)
	expect(t, f.room, ds, changed(nil, nil))
	// Reporting the same again changes nothing and sends nothing.
	if ds, _ := f.room.SetPublishing("owner", KindAudio, true); ds != nil {
		t.Fatalf("a repeated report sent %+v", ds)
	}
	// Muting while publishing turns the microphone off; muting the unused
	// camera changes nothing visible.
	ds, err = f.room.SetMuted("owner", KindAudio, true)
	f.must(err)
	expect(t, f.room, ds, changed(nil, nil))
	if ds, _ := f.room.SetMuted("owner", KindVideo, true); ds != nil {
		t.Fatalf("muting an unpublished camera sent %+v", ds)
	}
	if _, audio, video := f.room.Allowed(0); audio || video {
		t.Fatal("muted kinds are allowed")
	}
	if u, a, v := f.room.Allowed(9); u != "" || a || v {
		t.Fatal("an out-of-range seat is allowed")
	}
	// A resume clears publishing: its media must be published again.
	_, err = f.room.SetMuted("owner", KindAudio, false)
	f.must(err)
	_, ds, err = f.room.Join(owner)
	f.must(err)
	expect(t, f.room, ds, changed(nil, nil))
	if f.room.Seats()[0].Microphone != DeviceOff {
		t.Fatal("a resumed member still shows its microphone on")
	}
}

// A lock set on an empty seat must not leave a mute behind on the seat
// itself (found by the property test): the next occupant gets its mute from
// the lock, and an unlock before anyone sits leaves a clean seat.
func TestLockOnAnEmptySeatLeavesNoStaleMute(t *testing.T) {
	f := newFixture(t)
	f.lock(2, nil, boolp(true), nil)
	f.lock(2, nil, boolp(false), nil)
	f.take("adm1", 2)
	_, err := f.room.SetPublishing("adm1", KindAudio, true)
	f.must(err)
	if s := f.room.Seats()[2]; s.Microphone != DeviceOn {
		t.Fatalf("a seat unlocked before anyone sat shows %+v", s)
	}
	if err := checkInvariants(f.room); err != nil {
		t.Fatal(err)
	}
}

func TestResumeWithANewNameShowsOnTheSeat(t *testing.T) {
	f := newFixture(t)
	f.take("adm1", 2)
	renamed := adm1
	renamed.Name = "Ada"
	_, ds, err := f.room.Join(renamed)
	f.must(err)
	expect(t, f.room, ds, changed(nil, nil))
	if u := f.room.Seats()[2].User; u == nil || u.Name != "Ada" {
		t.Fatalf("seat 2 shows %+v after the rename", u)
	}
	if u, _ := f.room.Member("adm1"); u != renamed {
		t.Fatalf("Member = %+v", u)
	}
}

func TestBannedAfterKickOutOnly(t *testing.T) {
	f := newFixture(t)
	_, err := f.room.KickOut("owner", "aud1")
	f.must(err)
	if !f.room.Banned("aud1") {
		t.Error("aud1 was kicked out but is not banned")
	}
	for _, id := range []string{"aud2", "adm1", "owner", "nobody"} {
		if f.room.Banned(id) {
			t.Errorf("%s was not kicked out but reads as banned", id)
		}
	}
}
