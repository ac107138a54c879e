package client_test

// Applications, both sides of each ending (PROTOCOL.md §3.3, §4 rules 3–5).

import (
	"sync"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// guestRecorder remembers what a GuestListener heard.
type guestRecorder struct {
	client.NopGuestListener
	mu        sync.Mutex
	responded []string
	kicked    []int
}

func (g *guestRecorder) OnGuestApplicationResponded(ok bool, host proto.User, idx int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ok {
		g.responded = append(g.responded, "accepted by "+host.UserID)
	} else {
		g.responded = append(g.responded, "rejected by "+host.UserID)
	}
}

func (g *guestRecorder) OnKickedOffSeat(idx int, by *proto.User) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.kicked = append(g.kicked, idx)
}

func TestApplyThenAccept(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, &client.CreateOptions{MaxSeats: 4})
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	rec := &guestRecorder{}
	ann.AddGuestListener(rec)
	ctx := ctxT(t)

	id, err := ann.ApplyForSeat(ctx, proto.NoSeat, 0, "let me sing")
	must(t, "apply", err)
	if id == "" {
		t.Fatal("seat.apply returned no requestId")
	}
	if r, ok := ann.SelfRequest(); !ok || r.RequestID != id {
		t.Errorf("applicant's SelfRequest = %+v, %v", r, ok)
	}
	got := next[proto.ApplicationReceived](t, owner, client.MethodApplicationReceived)
	q := got.Request
	if q.RequestID != id || q.Kind != proto.KindApply || q.From.UserID != "ann" || q.To != nil ||
		q.SeatIndex != proto.NoSeat || q.ExtraInfo != "let me sing" || q.ExpiresAt != 0 {
		t.Errorf("applicationReceived = %+v", q)
	}
	if a := owner.Applicants(); len(a) != 1 || a[0].RequestID != id {
		t.Errorf("host's Applicants = %+v", a)
	}
	// The request is in a host's fresh snapshot too.
	admin := e.join(room, "adam", proto.RoleAdmin, nil)
	if a := admin.Applicants(); len(a) != 1 || a[0].RequestID != id {
		t.Errorf("a host joining later sees applicants %+v", a)
	}

	idx, err := owner.AcceptApplication(ctx, "ann")
	must(t, "accept", err)
	if idx != 1 {
		t.Errorf("accepted onto seat %d, want the lowest free seat 1", idx)
	}
	resp := next[proto.ApplicationResponded](t, ann, client.MethodApplicationResponded)
	if !resp.Accepted || resp.Host.UserID != "olive" || resp.SeatIndex == nil || *resp.SeatIndex != 1 {
		t.Errorf("applicationResponded = %+v", resp)
	}
	for _, c := range []*client.Client{owner, ann, admin} {
		ch := waitSeat(t, c, 1, "ann")
		if j, ok := joined(ch, "ann"); !ok || j.SeatIndex != 1 {
			t.Errorf("%s: seat.changed joined = %+v", c.Self().UserID, ch.Joined)
		}
		if len(ch.Seats) != 4 {
			t.Errorf("seat.changed lists %d seats, want maxSeats 4", len(ch.Seats))
		}
	}
	processed := next[proto.ApplicationProcessedByOtherHost](t, admin, client.MethodApplicationProcessedByOtherHost)
	if processed.User.UserID != "ann" || processed.Host.UserID != "olive" || !processed.Accepted {
		t.Errorf("the other host heard %+v", processed)
	}
	if _, ok := ann.SelfRequest(); ok {
		t.Error("the applicant still shows a pending request after acceptance")
	}
	if len(owner.Applicants()) != 0 || len(admin.Applicants()) != 0 {
		t.Errorf("hosts still list applicants: %+v / %+v", owner.Applicants(), admin.Applicants())
	}
	_, err = owner.AcceptApplication(ctx, "ann")
	refused(t, "accepting twice", err, client.ErrRequestNotFound)
	barrier(t, admin, owner)
	none(t, owner, client.MethodApplicationProcessedByOtherHost)
	// Listeners run on the client's dispatcher, after the event is queued
	// for next: wait for the call rather than assume it came first.
	heard := func() []string {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return append([]string(nil), rec.responded...)
	}
	eventuallyT(t, "the GuestListener to hear the answer", func() bool { return len(heard()) > 0 })
	if got := heard(); len(got) != 1 || got[0] != "accepted by olive" {
		t.Errorf("GuestListener heard %v", got)
	}
}

func TestApplyThenReject(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, nil)
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	ctx := ctxT(t)

	_, err := ann.ApplyForSeat(ctx, 2, 0, "")
	must(t, "apply", err)
	next[proto.ApplicationReceived](t, owner, client.MethodApplicationReceived)
	must(t, "reject", owner.RejectApplication(ctx, "ann"))
	resp := next[proto.ApplicationResponded](t, ann, client.MethodApplicationResponded)
	if resp.Accepted || resp.Host.UserID != "olive" {
		t.Errorf("applicationResponded = %+v", resp)
	}
	refused(t, "rejecting twice", owner.RejectApplication(ctx, "ann"), client.ErrRequestNotFound)
	_, err = owner.AcceptApplication(ctx, "ann")
	refused(t, "accepting a rejected application", err, client.ErrRequestNotFound)
	if owner.SeatOf("ann") != proto.NoSeat || ann.SeatOf("ann") != proto.NoSeat {
		t.Error("a rejected applicant holds a seat")
	}
	// A rejected applicant may apply again.
	_, err = ann.ApplyForSeat(ctx, 2, 0, "")
	must(t, "apply again", err)
}

func TestApplyThenCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, nil)
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	ctx := ctxT(t)

	_, err := ann.ApplyForSeat(ctx, proto.NoSeat, 30*time.Second, "")
	must(t, "apply", err)
	next[proto.ApplicationReceived](t, owner, client.MethodApplicationReceived)
	must(t, "cancel", ann.CancelApplication(ctx))
	c := next[proto.ApplicationCancelled](t, owner, client.MethodApplicationCancelled)
	if c.User.UserID != "ann" || c.Reason != proto.RequestCancelled {
		t.Errorf("applicationCancelled = %+v", c)
	}
	if len(owner.Applicants()) != 0 {
		t.Errorf("host still lists %+v", owner.Applicants())
	}
	refused(t, "cancelling twice", ann.CancelApplication(ctx), client.ErrRequestNotFound)
	_, err = owner.AcceptApplication(ctx, "ann")
	refused(t, "accepting a cancelled application", err, client.ErrRequestNotFound)
	barrier(t, owner, ann)
	none(t, ann, client.MethodApplicationResponded)
	none(t, ann, client.MethodApplicationNoResponse)
}

// Not parallel: it measures timer precision, so it runs before the
// parallel tests load the machine.
func TestApplyTimesOut(t *testing.T) {
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, nil)
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	ctx := ctxT(t)

	sent := time.Now()
	_, err := ann.ApplyForSeat(ctx, proto.NoSeat, time.Second, "")
	must(t, "apply", err)
	q := next[proto.ApplicationReceived](t, owner, client.MethodApplicationReceived).Request
	if d := time.UnixMilli(q.ExpiresAt).Sub(sent); d < 900*time.Millisecond || d > 1500*time.Millisecond {
		t.Errorf("expiresAt is %v after the apply, want about the 1 s timeout", d)
	}
	hostSide, hostAt := nextAt[proto.ApplicationCancelled](t, owner, client.MethodApplicationCancelled)
	if hostSide.User.UserID != "ann" || hostSide.Reason != proto.RequestTimeout {
		t.Errorf("host heard %+v", hostSide)
	}
	within(t, "applicationCancelled{timeout} at the host", hostAt, q.ExpiresAt)
	guestSide, guestAt := nextAt[proto.ApplicationNoResponse](t, ann, client.MethodApplicationNoResponse)
	if guestSide.Reason != proto.RequestTimeout {
		t.Errorf("applicant heard %+v", guestSide)
	}
	within(t, "applicationNoResponse{timeout} at the applicant", guestAt, q.ExpiresAt)
	_, err = owner.AcceptApplication(ctx, "ann")
	refused(t, "accepting an expired application", err, client.ErrRequestNotFound)
	if _, ok := ann.SelfRequest(); ok {
		t.Error("applicant still shows the expired request")
	}
}

// Two hosts answer one application at the same moment: exactly one wins.
func TestTwoHostsRaceToAccept(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, nil)
	admin := e.join(room, "adam", proto.RoleAdmin, nil)
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	ctx := ctxT(t)

	_, err := ann.ApplyForSeat(ctx, proto.NoSeat, 0, "")
	must(t, "apply", err)
	next[proto.ApplicationReceived](t, owner, client.MethodApplicationReceived)
	next[proto.ApplicationReceived](t, admin, client.MethodApplicationReceived)

	hosts := []*client.Client{owner, admin}
	recs := []*hostRecorder{{}, {}}
	owner.AddHostListener(recs[0])
	admin.AddHostListener(recs[1])
	errs := make([]error, 2)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = h.AcceptApplication(ctx, "ann")
		}()
	}
	close(start)
	wg.Wait()
	winner, loser := -1, -1
	for i, err := range errs {
		switch {
		case err == nil:
			winner = i
		default:
			refused(t, hosts[i].Self().UserID+"'s late accept", err, client.ErrRequestNotFound)
			loser = i
		}
	}
	if winner < 0 || loser < 0 {
		t.Fatalf("want exactly one winner, got errors %v", errs)
	}
	p := next[proto.ApplicationProcessedByOtherHost](t, hosts[loser], client.MethodApplicationProcessedByOtherHost)
	if p.User.UserID != "ann" || p.Host.UserID != hosts[winner].Self().UserID || !p.Accepted {
		t.Errorf("loser heard %+v", p)
	}
	resp := next[proto.ApplicationResponded](t, ann, client.MethodApplicationResponded)
	if !resp.Accepted || resp.Host.UserID != hosts[winner].Self().UserID {
		t.Errorf("applicant heard %+v", resp)
	}
	barrier(t, ann, owner, admin)
	none(t, hosts[winner], client.MethodApplicationProcessedByOtherHost)
	if n := len(ann.Events(client.MethodApplicationResponded)); n != 1 {
		t.Errorf("applicant got %d applicationResponded, want 1", n)
	}
	owner.Close() // waits for the dispatchers: every listener call has run
	admin.Close()
	if got := recs[loser].list(); len(got) != 1 || got[0] != "ann by "+hosts[winner].Self().UserID {
		t.Errorf("the losing host's HostListener heard %v", got)
	}
	if got := recs[winner].list(); len(got) != 0 {
		t.Errorf("the winning host's HostListener heard %v", got)
	}
}

// hostRecorder remembers OnGuestApplicationProcessedByOtherHost calls.
type hostRecorder struct {
	client.NopHostListener
	mu  sync.Mutex
	got []string
}

func (h *hostRecorder) OnGuestApplicationProcessedByOtherHost(guest, host proto.User, accepted bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if accepted {
		h.got = append(h.got, guest.UserID+" by "+host.UserID)
	}
}

func (h *hostRecorder) list() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.got...)
}

// Rule 4: accepting into a taken or locked seat, or -1 with none free,
// fails and leaves the application pending.
func TestAcceptIntoUnavailableSeatKeepsRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, &client.CreateOptions{MaxSeats: 3})
	admin := e.join(room, "adam", proto.RoleAdmin, nil)
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	bob := e.join(room, "bob", proto.RoleAudience, nil)
	ctx := ctxT(t)

	_, err := admin.TakeSeat(ctx, 1)
	must(t, "admin takes seat 1", err)
	_, err = ann.ApplyForSeat(ctx, 1, 0, "")
	must(t, "ann applies for seat 1", err)
	next[proto.ApplicationReceived](t, owner, client.MethodApplicationReceived)

	_, err = owner.AcceptApplication(ctx, "ann")
	refused(t, "accept into a taken seat", err, client.ErrSeatOccupied)
	if a := owner.Applicants(); len(a) != 1 {
		t.Errorf("after a failed accept the host lists %+v", a)
	}
	must(t, "admin leaves seat 1", admin.LeaveSeat(ctx))
	must(t, "lock seat 1", owner.LockSeat(ctx, 1, client.LockOptions{LockSeat: client.Bool(true)}))
	_, err = owner.AcceptApplication(ctx, "ann")
	refused(t, "accept into a locked seat", err, client.ErrSeatLocked)
	must(t, "unlock seat 1", owner.LockSeat(ctx, 1, client.LockOptions{LockSeat: client.Bool(false)}))
	idx, err := owner.AcceptApplication(ctx, "ann")
	must(t, "accept once the seat is free", err)
	if idx != 1 {
		t.Errorf("ann got seat %d, want 1", idx)
	}

	// -1 with no free seat: seat 2 taken by the admin, seat 1 by ann.
	_, err = admin.TakeSeat(ctx, proto.NoSeat)
	must(t, "admin takes the last seat", err)
	_, err = bob.ApplyForSeat(ctx, proto.NoSeat, 0, "")
	must(t, "bob applies for any seat", err)
	_, err = owner.AcceptApplication(ctx, "bob")
	refused(t, "accept -1 with every seat taken", err, client.ErrSeatsFull)
	must(t, "admin leaves", admin.LeaveSeat(ctx))
	idx, err = owner.AcceptApplication(ctx, "bob")
	must(t, "accept bob after a seat frees", err)
	if idx != 2 {
		t.Errorf("bob got seat %d, want 2", idx)
	}
	resp := next[proto.ApplicationResponded](t, bob, client.MethodApplicationResponded)
	if !resp.Accepted || resp.SeatIndex == nil || *resp.SeatIndex != 2 {
		t.Errorf("bob heard %+v", resp)
	}
	if n := len(bob.Events(client.MethodApplicationResponded)); n != 1 {
		t.Errorf("the failed accept told bob something: %d applicationResponded", n)
	}
}
