package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/internal/redistest"
	"github.com/seatsfu/seatsfu/seat"
)

// TestRoomSurvivesItsNode is §12's takeover at the state level, through a
// real Redis: a room hosted on a saves on every change; a dies; b takes the
// room over and rebuilds it. The seats, locks, bans and pending requests
// are the same; members resume their seats by joining again; a request a
// answered is not answered again; a member that never comes back leaves
// when its grace ends; request ids continue where a left them.
func TestRoomSurvivesItsNode(t *testing.T) {
	r := redistest.Start(t)
	steady := func(c *Config) { c.LeaseTTL, c.NodeTTL = longTTL, longTTL }
	a := startNode(t, r, "a", nil)
	b := startNode(t, r, "b", steady)
	ctx := context.Background()
	clock := &manualClock{now: time.Unix(1_700_000_000, 0)}
	const grace = 10 * time.Second
	u := func(id string, role seat.Role) seat.User { return seat.User{UserID: id, Name: id, Role: role} }
	owner, guest, fan, gone, troll := u("o", seat.RoleOwner), u("g", seat.RoleAudience), u("f", seat.RoleAudience), u("x", seat.RoleAudience), u("t", seat.RoleAudience)

	room, err := seat.New(seat.Config{RoomID: "live", MaxSeats: 4, Owner: owner, Grace: grace, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	h, err := a.Host(ctx, "live")
	if err != nil {
		t.Fatal(err)
	}
	// save is what the hosting node does after every change: export,
	// encode, stage under the room's lock, flush before answering.
	save := func() {
		t.Helper()
		st, _ := room.Export()
		blob, err := EncodeState(st)
		if err != nil {
			t.Fatal(err)
		}
		h.Stage(blob)
		if err := h.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	step := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		save()
	}
	for _, m := range []seat.User{guest, fan, gone, troll} {
		_, _, err := room.Join(m)
		step(err)
	}
	_, _, err = room.Apply("g", 2, 0, "")
	step(err)
	_, _, err = room.AcceptApplication("o", "g")
	step(err)
	_, err = room.Lock("o", 3, nil, nil, ptr(true))
	step(err)
	_, err = room.KickOut("o", "t")
	step(err)
	appID, _, err := room.Apply("f", seat.NoSeat, 60, "pick me")
	step(err)

	a.stop() // as SIGKILL: no release, no leave
	var adopted *Hosted
	select {
	case adopted = <-b.adopted:
	case <-time.After(patience):
		t.Fatal("the room was not taken over")
	}
	saved, _ := adopted.Restored()
	clock.Advance(time.Second)
	back, err := RestoreRoom(saved, seat.Config{Grace: grace, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}

	seats := back.Seats()
	if seats[2].User == nil || seats[2].User.UserID != "g" || !seats[3].VideoLocked {
		t.Fatalf("seats after the takeover: %+v", seats)
	}
	if _, _, err := back.Join(troll); !errors.Is(err, seat.ErrBanned) {
		t.Fatalf("the banned member joined again: %v", err)
	}
	if _, _, err := back.AcceptApplication("o", "g"); !errors.Is(err, seat.ErrRequestNotFound) {
		t.Fatalf("an answered application was answered again: %v", err)
	}
	for _, m := range []seat.User{owner, guest, fan} {
		snap, ds, err := back.Join(m)
		if err != nil {
			t.Fatalf("%s could not resume: %v", m.UserID, err)
		}
		for _, d := range ds {
			if _, joined := d.Event.(seat.MemberJoined); joined {
				t.Fatalf("%s joined anew instead of resuming", m.UserID)
			}
		}
		if m.UserID == "o" && (len(snap.Requests) != 1 || snap.Requests[0].RequestID != appID || snap.Requests[0].ExtraInfo != "pick me") {
			t.Fatalf("the owner sees requests %+v, want the pending application %s", snap.Requests, appID)
		}
	}
	if back.SeatOf("g") != 2 {
		t.Fatalf("the guest resumed on seat %d, want 2", back.SeatOf("g"))
	}
	clock.Advance(grace) // x never came back
	back.Tick()
	if _, ok := back.Member("x"); ok {
		t.Fatal("a member that never came back outlived its grace")
	}
	if _, ok := back.Member("f"); !ok {
		t.Fatal("a member that resumed was dropped at the grace")
	}
	if _, err := back.CancelApplication("f"); err != nil {
		t.Fatal(err)
	}
	id, _, err := back.Apply("f", seat.NoSeat, 0, "")
	if err != nil || id == appID || id != "req-3" {
		t.Fatalf("the next request id is %q (%v), want req-3 after %s", id, err, appID)
	}
}

// TestRestoreRoomRefusesBadBlobs: a blob that does not decode or does not
// describe a consistent room is an error, not a room.
func TestRestoreRoomRefusesBadBlobs(t *testing.T) {
	clock := &manualClock{now: time.Unix(1_700_000_000, 0)}
	cfg := seat.Config{Grace: time.Second, Clock: clock}
	if _, err := RestoreRoom(Saved{Blob: []byte("{")}, cfg); err == nil {
		t.Fatal("a broken blob restored a room")
	}
	blob, err := EncodeState(seat.State{RoomID: "r", MaxSeats: 2, Mode: seat.ModeApply})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RestoreRoom(Saved{Blob: blob}, cfg); !errors.Is(err, seat.ErrInvalidParams) {
		t.Fatalf("a room without an owner = %v, want invalid_params", err)
	}
}
