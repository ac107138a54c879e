package client_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/signal"
	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
	"github.com/seatsfu/seatsfu/signal/token"
)

// A host pages every pending request through the SDK; the room's cap
// refuses the next applicant with requests_full.
func TestSeatRequestsPaging(t *testing.T) {
	e := newEnv(t, signaltest.WithLimits(signal.Limits{MaxPendingRequests: 7}))
	room := e.newRoom()
	owner := e.join(room, "owner", proto.RoleOwner, nil)
	for i := 0; i < 7; i++ {
		fan := e.join(room, fmt.Sprintf("fan%d", i), proto.RoleAudience, nil)
		_, err := fan.ApplyForSeat(ctxT(t), proto.NoSeat, 0, "")
		must(t, "apply", err)
	}
	late := e.join(room, "late", proto.RoleAudience, nil)
	_, err := late.ApplyForSeat(ctxT(t), proto.NoSeat, 0, "")
	refused(t, "apply beyond the cap", err, client.ErrRequestsFull)

	all, err := owner.AllSeatRequests(ctxT(t), 3)
	must(t, "AllSeatRequests", err)
	if len(all) != 7 || all[0].From.UserID != "fan0" || all[6].From.UserID != "fan6" {
		t.Fatalf("paged %d requests: %+v", len(all), all)
	}
	_, _, err = late.SeatRequests(ctxT(t), "", 10)
	refused(t, "audience seat.requests", err, client.ErrPermission)
}

// A session whose token expires is told, and stays when it refreshes; a
// token for someone else is refused.
func TestRefreshSession(t *testing.T) {
	e := newEnv(t, signaltest.WithLimits(signal.Limits{ExpiryGrace: 300 * time.Millisecond}))
	room := e.newRoom()
	e.join(room, "owner", proto.RoleOwner, nil)
	short := e.st.TokenFor(token.Identity{UserID: "ann", Room: room, Name: "ann", Role: proto.RoleAudience}, time.Second)
	ann, err := client.Dial(ctxT(t), e.wsURL, short)
	must(t, "dial", err)
	t.Cleanup(func() { ann.Close() })
	_, err = ann.Join(ctxT(t), nil)
	must(t, "join", err)

	next[struct{}](t, ann, client.MethodSessionExpired)
	other := e.st.Token(room, "bob", proto.RoleAudience)
	refused(t, "refresh with another user's token", ann.RefreshSession(ctxT(t), other), client.ErrTokenInvalid)
	must(t, "refresh", ann.RefreshSession(ctxT(t), e.st.Token(room, "ann", proto.RoleAudience)))

	// A probe whose token expires no earlier than ann's did, and which
	// does not refresh, is closed once its grace is over: by then ann's
	// grace would have closed ann too.
	e.expiringProbe(t, room)
	_, err = ann.AllMembers(ctxT(t), 10)
	must(t, "members after the grace", err)
}

// RefreshOnExpiry keeps a session past its token with no code of the
// caller's beyond the token source.
func TestRefreshOnExpiry(t *testing.T) {
	e := newEnv(t, signaltest.WithLimits(signal.Limits{ExpiryGrace: 300 * time.Millisecond}))
	room := e.newRoom()
	e.join(room, "owner", proto.RoleOwner, nil)
	short := func() string {
		return e.st.TokenFor(token.Identity{UserID: "ann", Room: room, Name: "ann", Role: proto.RoleAudience}, time.Second)
	}
	ann, err := client.Dial(ctxT(t), e.wsURL, short())
	must(t, "dial", err)
	t.Cleanup(func() { ann.Close() })
	refreshed := make(chan struct{}, 4)
	stop := ann.RefreshOnExpiry(func(context.Context) (string, error) {
		refreshed <- struct{}{}
		return e.st.Token(room, "ann", proto.RoleAudience), nil
	}, func(err error) { t.Errorf("refresh failed: %v", err) })
	defer stop()
	_, err = ann.Join(ctxT(t), nil)
	must(t, "join", err)
	select {
	case <-refreshed:
	case <-time.After(waitFor):
		t.Fatal("no refresh on expiry")
	}
	// A probe that does not refresh closes after its grace; ann, refreshed,
	// is still served then.
	e.expiringProbe(t, room)
	_, err = ann.AllMembers(ctxT(t), 10)
	must(t, "members after the grace", err)
}

// expiringProbe joins room as "probe" with a one-second token it never
// refreshes, and waits until the server closes it once the grace is over.
func (e *env) expiringProbe(t *testing.T, room string) {
	t.Helper()
	tok := e.st.TokenFor(token.Identity{UserID: "probe", Room: room, Name: "probe", Role: proto.RoleAudience}, time.Second)
	probe, err := client.Dial(ctxT(t), e.wsURL, tok)
	must(t, "dial probe", err)
	t.Cleanup(func() { probe.Close() })
	_, err = probe.Join(ctxT(t), nil)
	must(t, "probe join", err)
	select {
	case <-probe.Done():
	case <-time.After(waitFor):
		t.Fatal("the probe was not closed after its token's grace")
	}
}
