package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/internal/redistest"
)

// TestRoute: a room hosted on a routes locally there and to a from b, with
// a's addresses; an unknown room has no holder; with Redis down b keeps
// routing over its cached answer, marked stale; with Redis back (empty) a
// re-takes its lease and b routes to it afresh.
func TestRoute(t *testing.T) {
	r := redistest.Start(t)
	clock := &manualClock{now: time.Unix(1_700_000_000, 0)}
	steady := func(c *Config) { c.LeaseTTL, c.NodeTTL = longTTL, longTTL }
	a := startNode(t, r, "a", steady)
	b := startNode(t, r, "b", func(c *Config) { steady(c); c.Clock = clock })
	ctx := context.Background()
	if _, err := a.Host(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if rt, err := a.Route(ctx, "r1"); err != nil || !rt.Local || rt.Node.ID != "a" {
		t.Fatalf("a's route = %+v, %v; want local", rt, err)
	}
	eventually(t, "b sees a in the registry", func() bool { return len(b.Nodes()) == 2 })
	rt, err := b.Route(ctx, "r1")
	if err != nil || rt.Local || rt.Stale || rt.Node.ID != "a" || rt.Node.NodeAddr != "127.0.0.1:1a" {
		t.Fatalf("b's route = %+v, %v; want node a", rt, err)
	}
	if _, err := b.Route(ctx, "nowhere"); !errors.Is(err, ErrNoHolder) {
		t.Fatalf("route of an unknown room = %v, want ErrNoHolder", err)
	}

	r.Kill()
	if rt, err := b.Route(ctx, "r1"); err != nil || rt.Stale || rt.Node.ID != "a" {
		t.Fatalf("a fresh cached route with Redis down = %+v, %v", rt, err)
	}
	clock.Advance(time.Second) // past the cache's life: Redis must be asked
	if rt, err := b.Route(ctx, "r1"); err != nil || !rt.Stale || rt.Node.ID != "a" {
		t.Fatalf("route with Redis down = %+v, %v; want a, stale", rt, err)
	}
	if _, err := b.Route(ctx, "uncached"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("an uncached route with Redis down = %v, want ErrUnavailable", err)
	}
	clock.Advance(routeKeep)
	if _, err := b.Route(ctx, "r1"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a route older than %v with Redis down = %v, want ErrUnavailable", routeKeep, err)
	}

	r.Restart()
	eventually(t, "a holds r1 again and b routes to it", func() bool {
		clock.Advance(time.Second)
		rt, err := b.Route(ctx, "r1")
		return err == nil && !rt.Stale && rt.Node.ID == "a"
	})
}

// TestRouteToANodeStartedSinceTheTick: b's list of live nodes is a tick old
// (b ticks once a minute here), so it does not show a node that started
// after it; a room that node hosts is still routed to it, as the registry
// is read again for a holder b does not know. A holder that is not in the
// registry at all (dead, its lease about to expire) is still no holder.
func TestRouteToANodeStartedSinceTheTick(t *testing.T) {
	r := redistest.Start(t)
	slow := func(c *Config) { c.Tick, c.LeaseTTL, c.NodeTTL = longTTL/2, longTTL, longTTL }
	b := startNode(t, r, "b", slow)
	eventually(t, "b's first tick", func() bool { return len(b.Nodes()) == 1 })
	a := startNode(t, r, "a", slow)
	eventually(t, "a's first tick: it is in the registry", func() bool { return len(a.Nodes()) == 2 })
	ctx := context.Background()
	if _, err := a.Host(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if got := len(b.Nodes()); got != 1 {
		t.Fatalf("b lists %d nodes before its next tick, want 1 (the test needs b's list to be old)", got)
	}
	if rt, err := b.Route(ctx, "r1"); err != nil || rt.Local || rt.Node.ID != "a" || rt.Node.NodeAddr != "127.0.0.1:1a" {
		t.Fatalf("b's route to a room on a node started since its tick = %+v, %v; want node a", rt, err)
	}

	if _, err := openStore(t, r).Claim(ctx, "r2", "ghost", longTTL, 0); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second answer comes from the cache, without a read
		if rt, err := b.Route(ctx, "r2"); !errors.Is(err, ErrNoHolder) {
			t.Fatalf("route of a room held by a node not in the registry = %+v, %v; want ErrNoHolder", rt, err)
		}
	}
}
