package client_test

// Direct seat operations: take, move, leave, kick, lock, mute.

import (
	"testing"

	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
)

func TestTakeInFreeAndApplyMode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctxT(t)

	applyRoom := e.newRoom()
	owner := e.join(applyRoom, "olive", proto.RoleOwner, &client.CreateOptions{MaxSeats: 3, SeatMode: proto.ModeApply})
	ann := e.join(applyRoom, "ann", proto.RoleAudience, nil)
	admin := e.join(applyRoom, "adam", proto.RoleAdmin, nil)
	if r := ann.Room(); r.SeatMode != proto.ModeApply || r.MaxSeats != 3 {
		t.Errorf("snapshot room = %+v", r)
	}
	_, err := ann.TakeSeat(ctx, proto.NoSeat)
	refused(t, "audience seat.take in apply mode", err, client.ErrPermission)
	idx, err := admin.TakeSeat(ctx, proto.NoSeat)
	must(t, "admin seat.take in apply mode", err)
	if idx != 1 {
		t.Errorf("admin took seat %d, want 1", idx)
	}
	ch := waitSeat(t, owner, 1, "adam")
	if j, ok := joined(ch, "adam"); !ok || j.SeatIndex != 1 {
		t.Errorf("seat.changed joined = %+v", ch.Joined)
	}
	_, err = admin.TakeSeat(ctx, 2)
	refused(t, "taking a second seat", err, client.ErrAlreadySeated)
	_, err = owner.TakeSeat(ctx, 2)
	refused(t, "the owner taking a guest seat", err, client.ErrAlreadySeated)

	freeRoom := e.newRoom()
	e.join(freeRoom, "olive2", proto.RoleOwner, &client.CreateOptions{MaxSeats: 3, SeatMode: proto.ModeFree})
	bob := e.join(freeRoom, "bob", proto.RoleAudience, nil)
	cat := e.join(freeRoom, "cat", proto.RoleAudience, nil)
	idx, err = bob.TakeSeat(ctx, 2)
	must(t, "audience seat.take in free mode", err)
	if idx != 2 {
		t.Errorf("bob took %d, want 2", idx)
	}
	_, err = cat.TakeSeat(ctx, 2)
	refused(t, "taking an occupied seat", err, client.ErrSeatOccupied)
	_, err = cat.TakeSeat(ctx, 0)
	refused(t, "taking seat 0", err, client.ErrSeatIndexInvalid)
	_, err = cat.TakeSeat(ctx, 3)
	refused(t, "taking seat maxSeats", err, client.ErrSeatIndexInvalid)
	_, err = cat.TakeSeat(ctx, proto.NoSeat)
	must(t, "cat takes the last seat", err)
	waitSeat(t, bob, 1, "cat")
	dan := e.join(freeRoom, "dan", proto.RoleAudience, nil)
	_, err = dan.TakeSeat(ctx, proto.NoSeat)
	refused(t, "seat.take -1 with no free seat", err, client.ErrSeatsFull)
}

func TestMoveAndLeaveSeat(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, &client.CreateOptions{MaxSeats: 5, SeatMode: proto.ModeFree})
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	bob := e.join(room, "bob", proto.RoleAudience, nil)
	ctx := ctxT(t)

	refused(t, "move without a seat", ann.MoveSeat(ctx, 2), client.ErrNotSeated)
	refused(t, "leave a seat without one", ann.LeaveSeat(ctx), client.ErrNotSeated)
	refused(t, "the owner leaving seat 0", owner.LeaveSeat(ctx), client.ErrPermission)
	_, err := ann.TakeSeat(ctx, 1)
	must(t, "ann takes 1", err)
	_, err = bob.TakeSeat(ctx, 2)
	must(t, "bob takes 2", err)
	must(t, "lock seat 4", owner.LockSeat(ctx, 4, client.LockOptions{LockSeat: client.Bool(true)}))
	refused(t, "move onto a taken seat", ann.MoveSeat(ctx, 2), client.ErrSeatOccupied)
	refused(t, "move onto a locked seat", ann.MoveSeat(ctx, 4), client.ErrSeatLocked)
	refused(t, "move onto seat 0", ann.MoveSeat(ctx, 0), client.ErrSeatIndexInvalid)
	refused(t, "move outside the room", ann.MoveSeat(ctx, 5), client.ErrSeatIndexInvalid)

	must(t, "move to 3", ann.MoveSeat(ctx, 3))
	ch := waitSeat(t, bob, 3, "ann")
	if seatUser(ch.Seats, 1) != "" {
		t.Errorf("seat 1 still shows %q after the move", seatUser(ch.Seats, 1))
	}
	if l, ok := left(ch, "ann"); !ok || l.SeatIndex != 1 || l.Reason != proto.LeftMoved {
		t.Errorf("move's left entry = %+v", ch.Left)
	}
	if j, ok := joined(ch, "ann"); !ok || j.SeatIndex != 3 {
		t.Errorf("move's joined entry = %+v", ch.Joined)
	}

	must(t, "leave seat", ann.LeaveSeat(ctx))
	ch, l := waitLeft(t, owner, "ann")
	for l.Reason == proto.LeftMoved { // the move's entry came first
		ch, l = waitLeft(t, owner, "ann")
	}
	if l.SeatIndex != 3 || l.Reason != proto.LeftLeft || seatUser(ch.Seats, 3) != "" {
		t.Errorf("leave's left entry = %+v", ch.Left)
	}
	// Her store follows her own seat.changed, which the server sends after
	// the answer to seat.leave: wait for it, then read the store.
	_, l = waitLeft(t, ann, "ann")
	for l.Reason == proto.LeftMoved {
		_, l = waitLeft(t, ann, "ann")
	}
	if ann.SeatOf("ann") != proto.NoSeat {
		t.Error("ann's own store still seats her")
	}
}

func TestKickOffSeat(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, &client.CreateOptions{SeatMode: proto.ModeFree})
	admin := e.join(room, "adam", proto.RoleAdmin, nil)
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	bob := e.join(room, "bob", proto.RoleAudience, nil)
	rec := &guestRecorder{}
	ann.AddGuestListener(rec)
	ctx := ctxT(t)

	refused(t, "kicking an unseated user", owner.KickUserOutOfSeat(ctx, "bob"), client.ErrNotSeated)
	_, err := ann.TakeSeat(ctx, 2)
	must(t, "ann takes 2", err)
	refused(t, "audience kicking", bob.KickUserOutOfSeat(ctx, "ann"), client.ErrPermission)
	refused(t, "kicking the owner off seat 0", admin.KickUserOutOfSeat(ctx, "olive"), client.ErrPermission)
	must(t, "admin kicks ann", admin.KickUserOutOfSeat(ctx, "ann"))
	k := next[proto.SeatKicked](t, ann, client.MethodSeatKicked)
	if k.SeatIndex != 2 || k.By.UserID != "adam" {
		t.Errorf("seat.kicked = %+v", k)
	}
	ch, l := waitLeft(t, owner, "ann")
	if l.Reason != proto.LeftKicked || l.SeatIndex != 2 || seatUser(ch.Seats, 2) != "" {
		t.Errorf("kick's left entry = %+v", ch.Left)
	}
	// ann is still in the room: she sees seat changes and may chat.
	must(t, "kicked guest still chats", ann.SendMessage(ctx, "still here"))
	next[client.Message](t, bob, client.MethodRoomMessage)
	ann.Close() // waits for the dispatcher, so the listener has run
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.kicked) != 1 || rec.kicked[0] != 2 {
		t.Errorf("OnKickedOffSeat heard %v", rec.kicked)
	}
}

func TestLockSeatAndMedia(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, &client.CreateOptions{MaxSeats: 4, SeatMode: proto.ModeFree})
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	bob := e.join(room, "bob", proto.RoleAudience, nil)
	ctx := ctxT(t)

	refused(t, "audience locking", ann.LockSeat(ctx, 1, client.LockOptions{LockSeat: client.Bool(true)}), client.ErrPermission)
	refused(t, "lock seat 4 of 4", owner.LockSeat(ctx, 4, client.LockOptions{LockSeat: client.Bool(true)}), client.ErrSeatIndexInvalid)
	refused(t, "mute without a seat", ann.SetMuted(ctx, proto.KindAudio, true), client.ErrNotSeated)
	_, err := ann.TakeSeat(ctx, 1)
	must(t, "ann takes 1", err)
	_, err = bob.TakeSeat(ctx, 2)
	must(t, "bob takes 2", err)

	// lockSeat on an occupied seat kicks its guest first.
	must(t, "lock ann's seat", owner.LockSeat(ctx, 1, client.LockOptions{LockSeat: client.Bool(true)}))
	k := next[proto.SeatKicked](t, ann, client.MethodSeatKicked)
	if k.SeatIndex != 1 || k.By.UserID != "olive" {
		t.Errorf("seat.kicked on lock = %+v", k)
	}
	ch, l := waitLeft(t, bob, "ann")
	if l.Reason != proto.LeftLocked || l.SeatIndex != 1 {
		t.Errorf("lock's left entry = %+v", ch.Left)
	}
	if !ch.Seats[1].Locked {
		t.Error("seat 1 does not show locked")
	}
	_, err = ann.TakeSeat(ctx, 1)
	refused(t, "taking a locked seat", err, client.ErrSeatLocked)

	// lockAudio is the host's mute: closedByAdmin, and the guest cannot undo it.
	must(t, "lock bob's audio", owner.LockSeat(ctx, 2, client.LockOptions{LockAudio: client.Bool(true)}))
	ch = waitSeatWhere(t, ann, "seat 2 audio locked", func(c proto.SeatChanged) bool { return c.Seats[2].AudioLocked })
	if s := ch.Seats[2]; s.Microphone != proto.DeviceClosedByAdmin || s.Camera == proto.DeviceClosedByAdmin || s.User == nil || s.User.UserID != "bob" {
		t.Errorf("audio-locked seat = %+v", s)
	}
	refused(t, "unmuting a locked kind", bob.SetMuted(ctx, proto.KindAudio, false), client.ErrPermission)
	must(t, "unlock bob's audio", owner.LockSeat(ctx, 2, client.LockOptions{LockAudio: client.Bool(false)}))
	ch = waitSeatWhere(t, ann, "seat 2 audio unlocked", func(c proto.SeatChanged) bool { return !c.Seats[2].AudioLocked })
	if m := ch.Seats[2].Microphone; m != proto.DeviceOff {
		t.Errorf("after unlock the microphone shows %q, want off until the guest unmutes", m)
	}
	must(t, "bob unmutes after the unlock", bob.SetMuted(ctx, proto.KindAudio, false))
	must(t, "bob mutes his camera", bob.SetMuted(ctx, proto.KindVideo, true))
	must(t, "lock bob's video", owner.LockSeat(ctx, 2, client.LockOptions{LockVideo: client.Bool(true)}))
	ch = waitSeatWhere(t, ann, "seat 2 video locked", func(c proto.SeatChanged) bool { return c.Seats[2].VideoLocked })
	if s := ch.Seats[2]; s.Camera != proto.DeviceClosedByAdmin || s.AudioLocked || s.Locked {
		t.Errorf("video-locked seat = %+v (omitted lock fields must stay unchanged)", s)
	}
	err = owner.Call(ctx, "media.setMuted", rawParams(`{"kind":"smell","muted":true}`), nil)
	refused(t, "muting an unknown kind", err, client.ErrInvalidParams)
}
