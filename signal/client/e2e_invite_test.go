package client_test

// Invitations, both sides of each ending, and the alreadySeated endings.

import (
	"sync"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
)

func TestInviteThenAccept(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, &client.CreateOptions{MaxSeats: 4})
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	ctx := ctxT(t)

	id, err := owner.InviteToSeat(ctx, "ann", 2, 0, "join me")
	must(t, "invite", err)
	if inv := owner.Invitees(); len(inv) != 1 || inv[0].RequestID != id || inv[0].To.UserID != "ann" {
		t.Errorf("inviter's Invitees = %+v", inv)
	}
	q := next[proto.InvitationReceived](t, ann, client.MethodInvitationReceived).Request
	if q.RequestID != id || q.Kind != proto.KindInvite || q.From.UserID != "olive" || q.To == nil ||
		q.To.UserID != "ann" || q.SeatIndex != 2 || q.ExtraInfo != "join me" || q.ExpiresAt != 0 {
		t.Errorf("invitationReceived = %+v", q)
	}
	if r, ok := ann.SelfRequest(); !ok || r.RequestID != id {
		t.Errorf("invitee's SelfRequest = %+v, %v", r, ok)
	}
	idx, err := ann.AcceptInvitation(ctx, "olive")
	must(t, "accept invitation", err)
	if idx != 2 {
		t.Errorf("invitee got seat %d, want 2", idx)
	}
	r := next[proto.InvitationResponded](t, owner, client.MethodInvitationResponded)
	if r.User.UserID != "ann" || !r.Accepted {
		t.Errorf("invitationResponded = %+v", r)
	}
	waitSeat(t, owner, 2, "ann")
	if len(owner.Invitees()) != 0 {
		t.Errorf("inviter still lists %+v", owner.Invitees())
	}
	_, err = ann.AcceptInvitation(ctx, "olive")
	refused(t, "accepting twice", err, client.ErrRequestNotFound)
	_, err = owner.InviteToSeat(ctx, "ann", proto.NoSeat, 0, "")
	refused(t, "inviting a seated user", err, client.ErrAlreadySeated)
}

func TestInviteThenReject(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, nil)
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	ctx := ctxT(t)

	_, err := owner.InviteToSeat(ctx, "ann", proto.NoSeat, 0, "")
	must(t, "invite", err)
	next[proto.InvitationReceived](t, ann, client.MethodInvitationReceived)
	refused(t, "rejecting someone else's invitation", ann.RejectInvitation(ctx, "nobody"), client.ErrRequestNotFound)
	must(t, "reject", ann.RejectInvitation(ctx, "olive"))
	r := next[proto.InvitationResponded](t, owner, client.MethodInvitationResponded)
	if r.User.UserID != "ann" || r.Accepted {
		t.Errorf("invitationResponded = %+v", r)
	}
	_, err = ann.AcceptInvitation(ctx, "olive")
	refused(t, "accepting a rejected invitation", err, client.ErrRequestNotFound)
	if owner.SeatOf("ann") != proto.NoSeat {
		t.Error("ann is seated after rejecting")
	}
}

func TestInviteThenCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, nil)
	admin := e.join(room, "adam", proto.RoleAdmin, nil)
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	ctx := ctxT(t)

	rec := &inviteRecorder{}
	ann.AddGuestListener(rec)
	_, err := owner.InviteToSeat(ctx, "ann", proto.NoSeat, 0, "")
	must(t, "invite", err)
	next[proto.InvitationReceived](t, ann, client.MethodInvitationReceived)
	refused(t, "cancelling another host's invitation", admin.CancelInvitation(ctx, "ann"), client.ErrRequestNotFound)
	must(t, "cancel", owner.CancelInvitation(ctx, "ann"))
	c := next[proto.InvitationCancelled](t, ann, client.MethodInvitationCancelled)
	if c.Host.UserID != "olive" || c.Reason != proto.RequestCancelled {
		t.Errorf("invitationCancelled = %+v", c)
	}
	if _, ok := ann.SelfRequest(); ok {
		t.Error("invitee still shows the cancelled invitation")
	}
	_, err = ann.AcceptInvitation(ctx, "olive")
	refused(t, "accepting a cancelled invitation", err, client.ErrRequestNotFound)
	refused(t, "cancelling twice", owner.CancelInvitation(ctx, "ann"), client.ErrRequestNotFound)
	barrier(t, ann, owner)
	none(t, owner, client.MethodInvitationResponded)
	none(t, owner, client.MethodInvitationNoResponse)
	ann.Close() // waits for the dispatcher
	if got := rec.list(); len(got) != 2 || got[0] != "received from olive" || got[1] != "cancelled by olive: cancelled" {
		t.Errorf("GuestListener heard %v", got)
	}
}

// inviteRecorder remembers the invitation callbacks of a GuestListener.
type inviteRecorder struct {
	client.NopGuestListener
	mu  sync.Mutex
	got []string
}

func (r *inviteRecorder) OnHostInvitationReceived(q proto.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, "received from "+q.From.UserID)
}

func (r *inviteRecorder) OnHostInvitationCancelled(host proto.User, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, "cancelled by "+host.UserID+": "+reason)
}

func (r *inviteRecorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// Not parallel: it measures timer precision, so it runs before the
// parallel tests load the machine.
func TestInviteTimesOut(t *testing.T) {
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, nil)
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	ctx := ctxT(t)

	_, err := owner.InviteToSeat(ctx, "ann", proto.NoSeat, time.Second, "")
	must(t, "invite", err)
	q := next[proto.InvitationReceived](t, ann, client.MethodInvitationReceived).Request
	guestSide, guestAt := nextAt[proto.InvitationCancelled](t, ann, client.MethodInvitationCancelled)
	if guestSide.Host.UserID != "olive" || guestSide.Reason != proto.RequestTimeout {
		t.Errorf("invitee heard %+v", guestSide)
	}
	within(t, "invitationCancelled{timeout} at the invitee", guestAt, q.ExpiresAt)
	hostSide, hostAt := nextAt[proto.InvitationNoResponse](t, owner, client.MethodInvitationNoResponse)
	if hostSide.User.UserID != "ann" || hostSide.Reason != proto.RequestTimeout {
		t.Errorf("inviter heard %+v", hostSide)
	}
	within(t, "invitationNoResponse{timeout} at the inviter", hostAt, q.ExpiresAt)
	_, err = ann.AcceptInvitation(ctx, "olive")
	refused(t, "accepting an expired invitation", err, client.ErrRequestNotFound)
	if len(owner.Invitees()) != 0 {
		t.Errorf("inviter still lists %+v", owner.Invitees())
	}
}

// A request ends with alreadySeated when its subject gets a seat another
// way: an applicant taking a seat in free mode, an invited admin taking one.
func TestAlreadySeatedEndings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, &client.CreateOptions{SeatMode: proto.ModeFree})
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	admin := e.join(room, "adam", proto.RoleAdmin, nil)
	ctx := ctxT(t)

	_, err := ann.ApplyForSeat(ctx, proto.NoSeat, 0, "")
	must(t, "ann applies", err)
	next[proto.ApplicationReceived](t, owner, client.MethodApplicationReceived)
	_, err = ann.TakeSeat(ctx, 3)
	must(t, "ann takes a seat in free mode", err)
	hc := next[proto.ApplicationCancelled](t, owner, client.MethodApplicationCancelled)
	if hc.User.UserID != "ann" || hc.Reason != proto.RequestAlreadySeated {
		t.Errorf("host heard %+v", hc)
	}
	gc := next[proto.ApplicationNoResponse](t, ann, client.MethodApplicationNoResponse)
	if gc.Reason != proto.RequestAlreadySeated {
		t.Errorf("applicant heard %+v", gc)
	}
	_, err = ann.ApplyForSeat(ctx, proto.NoSeat, 0, "")
	refused(t, "applying while seated", err, client.ErrAlreadySeated)

	_, err = owner.InviteToSeat(ctx, "adam", proto.NoSeat, 0, "")
	must(t, "invite the admin", err)
	next[proto.InvitationReceived](t, admin, client.MethodInvitationReceived)
	_, err = admin.TakeSeat(ctx, proto.NoSeat)
	must(t, "the admin takes a seat itself", err)
	ic := next[proto.InvitationCancelled](t, admin, client.MethodInvitationCancelled)
	if ic.Host.UserID != "olive" || ic.Reason != proto.RequestAlreadySeated {
		t.Errorf("invitee heard %+v", ic)
	}
	nr := next[proto.InvitationNoResponse](t, owner, client.MethodInvitationNoResponse)
	if nr.User.UserID != "adam" || nr.Reason != proto.RequestAlreadySeated {
		t.Errorf("inviter heard %+v", nr)
	}
}

// Rule 2: one seat and one pending request per user.
func TestRequestConflicts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, nil)
	admin := e.join(room, "adam", proto.RoleAdmin, nil)
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	bob := e.join(room, "bob", proto.RoleAudience, nil)
	ctx := ctxT(t)

	_, err := ann.ApplyForSeat(ctx, proto.NoSeat, 0, "")
	must(t, "ann applies", err)
	_, err = ann.ApplyForSeat(ctx, 2, 0, "")
	refused(t, "applying twice", err, client.ErrAlreadyApplied)
	_, err = owner.InviteToSeat(ctx, "ann", proto.NoSeat, 0, "")
	refused(t, "inviting an applicant", err, client.ErrRequestConflict)

	_, err = owner.InviteToSeat(ctx, "bob", proto.NoSeat, 0, "")
	must(t, "invite bob", err)
	_, err = admin.InviteToSeat(ctx, "bob", proto.NoSeat, 0, "")
	refused(t, "a second host inviting bob", err, client.ErrAlreadyApplied)
	_, err = bob.ApplyForSeat(ctx, proto.NoSeat, 0, "")
	refused(t, "an invitee applying", err, client.ErrRequestConflict)
	// Nothing of the refused calls reached anyone.
	next[proto.InvitationReceived](t, bob, client.MethodInvitationReceived)
	barrier(t, bob, owner, admin)
	barrier(t, owner, bob)
	if n := len(owner.Events(client.MethodApplicationReceived)); n != 1 {
		t.Errorf("hosts saw %d applications, want only ann's", n)
	}
	if n := len(bob.Events(client.MethodInvitationReceived)); n != 1 {
		t.Errorf("bob got %d invitations, want 1", n)
	}
}
