package client_test

// The reconnect grace (PROTOCOL.md §4 rule 8), with the suite's 1 s grace.

import (
	"errors"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
)

func TestResumeWithinGraceKeepsSeatAndRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, &client.CreateOptions{SeatMode: proto.ModeFree})
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	bob := e.join(room, "bob", proto.RoleAudience, nil)
	ctx := ctxT(t)
	_, err := ann.TakeSeat(ctx, 2)
	must(t, "ann takes 2", err)
	id, err := bob.ApplyForSeat(ctx, 5, 0, "")
	must(t, "bob applies", err)
	next[proto.ApplicationReceived](t, owner, client.MethodApplicationReceived)

	dropped := time.Now()
	ann.Drop()
	bob.Close()
	ann2 := e.dial(room, "ann", proto.RoleAudience)
	snap, err := ann2.Join(ctx, nil)
	must(t, "ann resumes", err)
	bob2 := e.dial(room, "bob", proto.RoleAudience)
	bsnap, err := bob2.Join(ctx, nil)
	must(t, "bob resumes", err)
	if time.Since(dropped) >= grace {
		t.Fatalf("resuming took %v, longer than the grace; the test proves nothing", time.Since(dropped))
	}
	if seatUser(snap.Seats, 2) != "ann" {
		t.Errorf("resumed snapshot seats = %+v", snap.Seats)
	}
	if s := snap.Seats[2]; s.Microphone == proto.DeviceOn || s.Camera == proto.DeviceOn {
		t.Errorf("a resumed seat shows media on before publishing again: %+v", s)
	}
	if len(bsnap.Requests) != 1 || bsnap.Requests[0].RequestID != id {
		t.Errorf("resumed applicant's snapshot requests = %+v", bsnap.Requests)
	}
	if r, ok := bob2.SelfRequest(); !ok || r.RequestID != id {
		t.Errorf("resumed applicant's SelfRequest = %+v, %v", r, ok)
	}
	// Absence can only be shown by letting the would-be deadline pass.
	time.Sleep(grace + 500*time.Millisecond)
	barrier(t, ann2, owner)
	for _, ev := range owner.Events(client.MethodSeatChanged) {
		ch, _ := client.Decode[proto.SeatChanged](ev)
		if l, ok := left(ch, "ann"); ok {
			t.Errorf("a resumed guest lost its seat: %+v", l)
		}
	}
	none(t, owner, client.MethodApplicationCancelled)
	if owner.SeatOf("ann") != 2 {
		t.Errorf("owner's store seats ann on %d", owner.SeatOf("ann"))
	}
	idx, err := owner.AcceptApplication(ctx, "bob")
	must(t, "accept the resumed application", err)
	if idx != 5 {
		t.Errorf("bob got %d, want 5", idx)
	}
}

func TestGraceExpiryFreesSeatAndEndsRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, &client.CreateOptions{SeatMode: proto.ModeFree})
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	bob := e.join(room, "bob", proto.RoleAudience, nil)
	cat := e.join(room, "cat", proto.RoleAudience, nil)
	ctx := ctxT(t)
	_, err := ann.TakeSeat(ctx, 1)
	must(t, "ann takes 1", err)
	_, err = bob.ApplyForSeat(ctx, proto.NoSeat, 0, "")
	must(t, "bob applies", err)
	_, err = owner.InviteToSeat(ctx, "cat", proto.NoSeat, 0, "")
	must(t, "invite cat", err)
	next[proto.ApplicationReceived](t, owner, client.MethodApplicationReceived)
	next[proto.InvitationReceived](t, cat, client.MethodInvitationReceived)

	dropped := time.Now()
	ann.Drop()
	bob.Drop()
	cat.Drop()
	ch, at := nextAt[proto.SeatChanged](t, owner, client.MethodSeatChanged)
	for seatUser(ch.Seats, 1) == "ann" {
		ch, at = nextAt[proto.SeatChanged](t, owner, client.MethodSeatChanged)
	}
	if l, ok := left(ch, "ann"); !ok || l.Reason != proto.LeftDisconnected || l.SeatIndex != 1 {
		t.Errorf("grace expiry freed the seat with %+v", ch.Left)
	}
	if d := at.Sub(dropped); d < grace-100*time.Millisecond {
		t.Errorf("the seat was freed %v after the drop, before the %v grace", d, grace)
	}
	ac := next[proto.ApplicationCancelled](t, owner, client.MethodApplicationCancelled)
	if ac.User.UserID != "bob" || ac.Reason != proto.RequestLeft {
		t.Errorf("applicant's grace expiry = %+v", ac)
	}
	nr := next[proto.InvitationNoResponse](t, owner, client.MethodInvitationNoResponse)
	if nr.User.UserID != "cat" || nr.Reason != proto.RequestLeft {
		t.Errorf("invitee's grace expiry = %+v", nr)
	}
	gone := map[string]string{}
	for len(gone) < 3 {
		l := next[proto.MemberLeft](t, owner, client.MethodMemberLeft)
		gone[l.User.UserID] = l.Reason
	}
	for _, u := range []string{"ann", "bob", "cat"} {
		if gone[u] != "disconnected" {
			t.Errorf("memberLeft for %s: reason %q, want disconnected", u, gone[u])
		}
	}
	// Back after the grace: a fresh member with nothing kept.
	ann2 := e.dial(room, "ann", proto.RoleAudience)
	snap, err := ann2.Join(ctx, nil)
	must(t, "ann rejoins late", err)
	if seatUser(snap.Seats, 1) != "" || len(snap.Requests) != 0 {
		t.Errorf("late rejoin snapshot kept state: seats %+v requests %+v", snap.Seats, snap.Requests)
	}
}

// An inviter that leaves ends its invitation: the invitee hears "left".
func TestInviterGraceExpiryCancelsInvitation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	e.join(room, "olive", proto.RoleOwner, nil)
	admin := e.join(room, "adam", proto.RoleAdmin, nil)
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	ctx := ctxT(t)
	_, err := admin.InviteToSeat(ctx, "ann", proto.NoSeat, 0, "")
	must(t, "admin invites", err)
	next[proto.InvitationReceived](t, ann, client.MethodInvitationReceived)
	admin.Drop()
	c := next[proto.InvitationCancelled](t, ann, client.MethodInvitationCancelled)
	if c.Host.UserID != "adam" || c.Reason != proto.RequestLeft {
		t.Errorf("invitationCancelled = %+v", c)
	}
}

func TestOwnerAwayPastGraceEndsRoom(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, nil)
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	dropped := time.Now()
	owner.Drop()
	ended, at := nextAt[proto.RoomEnded](t, ann, client.MethodRoomEnded)
	if ended.Reason != proto.OwnerTimeout {
		t.Errorf("room.ended = %+v", ended)
	}
	if d := at.Sub(dropped); d < grace-100*time.Millisecond {
		t.Errorf("the room ended %v after the owner dropped, before the %v grace", d, grace)
	}
	select {
	case <-ann.Done():
	case <-ctxT(t).Done():
		t.Fatal("socket stayed open after owner_timeout")
	}
	if !errors.Is(ann.Err(), client.ErrRoomEnded) {
		t.Errorf("Err = %v", ann.Err())
	}
}

func TestOwnerResumesWithinGrace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, &client.CreateOptions{MaxSeats: 5})
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	id, err := owner.InviteToSeat(ctxT(t), "ann", 3, 0, "")
	must(t, "invite ann", err)
	owner.Drop()
	owner2 := e.dial(room, "olive", proto.RoleOwner)
	snap, err := owner2.Join(ctxT(t), nil)
	must(t, "owner resumes", err)
	if snap.Room.MaxSeats != 5 || seatUser(snap.Seats, 0) != "olive" {
		t.Errorf("owner's resumed snapshot = %+v", snap)
	}
	if inv := owner2.Invitees(); len(inv) != 1 || inv[0].RequestID != id || inv[0].To == nil || inv[0].To.UserID != "ann" {
		t.Errorf("the resumed inviter's Invitees = %+v", inv)
	}
	// Absence can only be shown by letting the would-be deadline pass.
	time.Sleep(grace + 500*time.Millisecond)
	barrier(t, owner2, ann)
	none(t, ann, client.MethodRoomEnded)
}
