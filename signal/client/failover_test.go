package client_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/internal/redistest"
	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// TestFailoverResumesOnAnotherNode: a seated guest and the owner connect
// through Failover with both nodes listed. The node hosting the room
// stops; both clients reconnect to the other node on their own and resume
// — the guest on its seat, the owner as owner — and the room goes on
// there.
func TestFailoverResumesOnAnotherNode(t *testing.T) {
	rd := redistest.Start(t)
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	a := signaltest.StartNode(t, rd.URL(), secret, signaltest.WithGrace(grace))
	b := signaltest.StartNode(t, rd.URL(), secret, signaltest.WithGrace(grace))
	ctx := ctxT(t)

	var ownerJoins, guestJoins atomic.Int32
	owner, err := client.Connect(ctx, client.FailoverConfig{
		URLs: []string{a.WSURL, b.WSURL}, Token: a.Token("r1", "owner", proto.RoleOwner),
		Create: &client.CreateOptions{MaxSeats: 4}, Grace: grace,
		OnConnect: func(*client.Client, proto.Snapshot) { ownerJoins.Add(1) },
	})
	must(t, "owner connects", err)
	defer owner.Close()
	var seatAfter atomic.Value
	guest, err := client.Connect(ctx, client.FailoverConfig{
		URLs: []string{a.WSURL, b.WSURL}, Token: a.Token("r1", "guest", proto.RoleAudience), Grace: grace,
		OnConnect: func(_ *client.Client, snap proto.Snapshot) {
			if guestJoins.Add(1) > 1 && snap.Seats[1].User != nil {
				seatAfter.Store(snap.Seats[1].User.UserID)
			}
		},
	})
	must(t, "guest connects", err)
	defer guest.Close()
	_, err = guest.Client().ApplyForSeat(ctx, 1, 0, "")
	must(t, "apply", err)
	_, err = owner.Client().AcceptApplication(ctx, "guest")
	must(t, "accept", err)

	first := guest.Client()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	must(t, "node a stops", a.Server.Shutdown(sctx))
	deadline := time.Now().Add(10 * time.Second)
	for ownerJoins.Load() < 2 || guestJoins.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no failover: owner joined %d times, guest %d (errors %v / %v)",
				ownerJoins.Load(), guestJoins.Load(), owner.Err(), guest.Err())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if guest.Client() == first {
		t.Fatal("the guest's client was not replaced")
	}
	if got, _ := seatAfter.Load().(string); got != "guest" {
		t.Fatalf("after the failover seat 1 holds %q, want the guest resumed on it", got)
	}
	if b.SFU.Room("r1") == nil {
		t.Fatal("node b does not host the room after the failover")
	}
	// The room goes on at b: the owner kicks the guest off its seat, the
	// guest hears it on its new connection.
	must(t, "kick on b", owner.Client().KickUserOutOfSeat(ctx, "guest"))
	waitSeatWhere(t, guest.Client(), "the guest leaving seat 1", func(ch proto.SeatChanged) bool {
		_, ok := left(ch, "guest")
		return ok
	})

	// Closing stops the failover for good.
	must(t, "close", guest.Close())
	if err := guest.Err(); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("a closed failover reports %v, want ErrClosed", err)
	}
}

// TestFailoverRefreshesNodes: a client that knew only node a learns the
// cluster's nodes from GET /v1/nodes and, when a stops, resumes on b.
func TestFailoverRefreshesNodes(t *testing.T) {
	rd := redistest.Start(t)
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	a := signaltest.StartNode(t, rd.URL(), secret, signaltest.WithGrace(grace))
	b := signaltest.StartNode(t, rd.URL(), secret, signaltest.WithGrace(grace))
	ctx := ctxT(t)
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	var listed []string
	deadline := time.Now().Add(10 * time.Second)
	for len(listed) < 2 { // b sees a's registration at its next tick
		if time.Now().After(deadline) {
			t.Fatalf("GET /v1/nodes on b lists %v, want both nodes", listed)
		}
		var err error
		listed, err = client.ListNodes(ctx, hc, b.URL)
		must(t, "list nodes", err)
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{a.WSURL, b.WSURL} {
		found := false
		for _, u := range listed {
			found = found || u == want
		}
		if !found {
			t.Fatalf("GET /v1/nodes lists %v, without %s", listed, want)
		}
	}

	var joins atomic.Int32
	owner, err := client.Connect(ctx, client.FailoverConfig{
		URLs: []string{a.WSURL}, Token: a.Token("r1", "owner", proto.RoleOwner), Grace: grace,
		Refresh:   func(ctx context.Context) ([]string, error) { return client.ListNodes(ctx, hc, b.URL) },
		OnConnect: func(*client.Client, proto.Snapshot) { joins.Add(1) },
	})
	must(t, "owner connects", err)
	defer owner.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	must(t, "node a stops", a.Server.Shutdown(sctx))
	deadline = time.Now().Add(10 * time.Second)
	for joins.Load() < 2 {
		if time.Now().After(deadline) {
			select {
			case <-owner.Client().Done():
				t.Fatalf("the owner did not resume on b: failover %v, client %v", owner.Err(), owner.Client().Err())
			default:
				t.Fatalf("the owner's connection to the stopped node a is still open (failover %v)", owner.Err())
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if b.SFU.Room("r1") == nil {
		t.Fatal("node b does not host the room")
	}
}
