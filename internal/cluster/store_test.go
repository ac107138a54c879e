package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/seatsfu/seatsfu/internal/redistest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// go-redis logs every failed dial; the Redis-down tests cause them on
	// purpose and assert on errors and metrics instead.
	redis.SetLogger(quietLogger{})
	goleak.VerifyTestMain(m)
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// short TTLs keep expiry tests quick; the polls below wait for them with
// deadlines far above, so a loaded machine only makes a test slower.
const (
	shortTTL = 300 * time.Millisecond
	longTTL  = time.Minute
	patience = 10 * time.Second
)

func openStore(t *testing.T, r *redistest.Server) *Store {
	t.Helper()
	s, err := Open(Options{URL: r.URL(), OpTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// eventually polls cond until it holds or patience runs out.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ids(ns []NodeInfo) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.ID)
	}
	return out
}

// TestRegistry: two nodes on one Redis see each other with their addresses
// and load; one that stops heartbeating disappears once its TTL passes, and
// one that leaves disappears at once.
func TestRegistry(t *testing.T) {
	r := redistest.Start(t)
	a, b := openStore(t, r), openStore(t, r)
	ctx := context.Background()
	na := NodeInfo{ID: "a", NodeAddr: "127.0.0.1:7001", HTTPAddr: "127.0.0.1:8001", Load: Load{Rooms: 2, Clients: 30, CPU: 0.5}}
	nb := NodeInfo{ID: "b", NodeAddr: "127.0.0.1:7002", HTTPAddr: "127.0.0.1:8002"}
	if err := a.Heartbeat(ctx, na, longTTL); err != nil {
		t.Fatal(err)
	}
	// b registers for long first: on a loaded machine a short TTL could
	// lapse before the reads below.
	if err := b.Heartbeat(ctx, nb, longTTL); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Store{a, b} {
		got, err := s.Nodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0] != na || got[1] != nb {
			t.Fatalf("Nodes = %+v, want a and b as registered", got)
		}
	}
	if g := testutil.ToFloat64(a.m.nodes); g != 2 {
		t.Fatalf("nodes gauge = %v, want 2", g)
	}
	// b's last heartbeat is a short one, then it stops.
	if err := b.Heartbeat(ctx, nb, shortTTL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b's heartbeat expires", func() bool {
		got, err := a.Nodes(ctx)
		return err == nil && fmt.Sprint(ids(got)) == "[a]"
	})
	if g := testutil.ToFloat64(a.m.nodes); g != 1 {
		t.Fatalf("nodes gauge = %v after b expired, want 1", g)
	}
	if err := a.Leave(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Nodes(ctx); err != nil || len(got) != 0 {
		t.Fatalf("after a left, Nodes = %v, %v", got, err)
	}
}

// TestClaimOneWinner: many nodes claim one free room at once; exactly one
// wins and the others are told who. When the winner stops renewing, the
// room is an orphan and a second race again has one winner, with a larger
// fence.
func TestClaimOneWinner(t *testing.T) {
	r := redistest.Start(t)
	ctx := context.Background()
	const claimers = 8
	stores := make([]*Store, claimers)
	for i := range stores {
		stores[i] = openStore(t, r)
	}
	race := func(ttl time.Duration) Lease {
		t.Helper()
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners []Lease
			held    []*HeldError
		)
		start := make(chan struct{})
		for i, s := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				l, err := s.Claim(ctx, "room1", fmt.Sprintf("node%d", i), ttl, 0)
				mu.Lock()
				defer mu.Unlock()
				var he *HeldError
				switch {
				case err == nil:
					winners = append(winners, l)
				case errors.As(err, &he) && errors.Is(err, ErrHeld):
					held = append(held, he)
				default:
					t.Errorf("claim: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(winners) != 1 || len(held) != claimers-1 {
			t.Fatalf("%d winners (%v) and %d refusals, want 1 and %d", len(winners), winners, len(held), claimers-1)
		}
		for _, h := range held {
			if h.Node != winners[0].Node || h.Fence != winners[0].Fence {
				t.Fatalf("a loser was told %+v, the winner is %+v", h, winners[0])
			}
		}
		return winners[0]
	}
	// A long lease for the race (a loaded machine may spread the claims
	// over more than a short TTL), then the winner shortens it so the
	// room becomes an orphan soon.
	first := race(longTTL)
	if first.Fence != 1 {
		t.Fatalf("first fence = %d, want 1", first.Fence)
	}
	if l, err := stores[0].Claim(ctx, "room1", first.Node, shortTTL, 0); err != nil || l != first {
		t.Fatalf("the holder's shortening claim = %+v, %v", l, err)
	}
	if got, err := stores[0].Holder(ctx, "room1"); err != nil || got != first {
		t.Fatalf("Holder = %+v, %v; want %+v", got, err, first)
	}
	if o, err := stores[0].Orphans(ctx, 10); err != nil || len(o) != 0 {
		t.Fatalf("a held room is listed as an orphan: %v %v", o, err)
	}
	eventually(t, "the lease expires and the room is an orphan", func() bool {
		o, err := stores[0].Orphans(ctx, 10)
		return err == nil && len(o) == 1 && o[0] == "room1"
	})
	if _, err := stores[0].Holder(ctx, "room1"); !errors.Is(err, ErrNoHolder) {
		t.Fatalf("Holder of an expired lease = %v, want ErrNoHolder", err)
	}
	second := race(longTTL)
	if second.Fence <= first.Fence {
		t.Fatalf("takeover fence %d is not above %d", second.Fence, first.Fence)
	}
	// The holder's own claim refreshes, never re-fences.
	again, err := stores[0].Claim(ctx, "room1", second.Node, longTTL, 0)
	if err != nil || again != second {
		t.Fatalf("the holder's re-claim = %+v, %v; want %+v", again, err, second)
	}
	// A release hands the room to takeover at once, and the releaser
	// cannot take it back by renewing.
	if err := stores[0].Release(ctx, second); err != nil {
		t.Fatal(err)
	}
	if o, err := stores[0].Orphans(ctx, 10); err != nil || len(o) != 1 {
		t.Fatalf("a released room is not an orphan at once: %v %v", o, err)
	}
	if _, err := stores[0].Renew(ctx, second, longTTL); !errors.Is(err, ErrFenced) {
		t.Fatalf("renew after release = %v, want ErrFenced", err)
	}
}

// TestStaleHolderFenced: after a takeover, the old holder's save, renew and
// end are refused, and what it tried to write never shows.
func TestStaleHolderFenced(t *testing.T) {
	r := redistest.Start(t)
	a, b := openStore(t, r), openStore(t, r)
	ctx := context.Background()
	la, err := a.Claim(ctx, "room1", "a", shortTTL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := a.Save(ctx, la, shortTTL, 1, []byte("a1")); err != nil || !ok {
		t.Fatalf("holder's save = %v, %v", ok, err)
	}
	var lb Lease
	eventually(t, "b takes the room over once a's lease expires", func() bool {
		lb, err = b.Claim(ctx, "room1", "b", longTTL, 0)
		return err == nil
	})
	if lb.Fence <= la.Fence {
		t.Fatalf("b's fence %d is not above a's %d", lb.Fence, la.Fence)
	}
	got, err := b.Load(ctx, "room1")
	if err != nil || string(got.Blob) != "a1" || got.Version != 1 || got.Fence != la.Fence {
		t.Fatalf("b loads %+v, %v; want a's state v1", got, err)
	}
	if ok, err := b.Save(ctx, lb, longTTL, 2, []byte("b2")); err != nil || !ok {
		t.Fatalf("new holder's save = %v, %v", ok, err)
	}
	// a wakes up believing it still hosts the room.
	if _, err := a.Save(ctx, la, shortTTL, 3, []byte("a3")); !errors.Is(err, ErrFenced) {
		t.Fatalf("stale save = %v, want ErrFenced", err)
	}
	if _, err := a.Renew(ctx, la, shortTTL); !errors.Is(err, ErrFenced) {
		t.Fatalf("stale renew = %v, want ErrFenced", err)
	}
	if err := a.End(ctx, la, time.Minute); !errors.Is(err, ErrFenced) {
		t.Fatalf("stale end = %v, want ErrFenced", err)
	}
	if err := a.Release(ctx, la); err != nil {
		t.Fatal(err)
	}
	if h, err := a.Holder(ctx, "room1"); err != nil || h != lb {
		t.Fatalf("after the stale node's tries the holder is %+v, %v; want %+v", h, err, lb)
	}
	got, err = a.Load(ctx, "room1")
	if err != nil || string(got.Blob) != "b2" || got.Version != 2 || got.Fence != lb.Fence {
		t.Fatalf("state = %+v, %v; want b's v2", got, err)
	}
	// The real holder's end forgets the room; its fence stays fenced.
	if err := b.End(ctx, lb, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Load(ctx, "room1"); !errors.Is(err, ErrNoState) {
		t.Fatalf("Load after end = %v, want ErrNoState", err)
	}
	if _, err := b.Save(ctx, lb, longTTL, 3, []byte("late")); !errors.Is(err, ErrFenced) {
		t.Fatalf("save after end = %v, want ErrFenced", err)
	}
	l3, err := a.Claim(ctx, "room1", "a", longTTL, 0)
	if err != nil || l3.Fence <= lb.Fence {
		t.Fatalf("a new room under the old id got %+v, %v; want a fence above %d", l3, err, lb.Fence)
	}
}

// TestSaveVersions: an older version arriving after a newer one never
// overwrites it.
func TestSaveVersions(t *testing.T) {
	r := redistest.Start(t)
	s := openStore(t, r)
	ctx := context.Background()
	l, err := s.Claim(ctx, "room1", "a", longTTL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Save(ctx, l, longTTL, 5, []byte("v5")); !ok || err != nil {
		t.Fatalf("save v5 = %v, %v", ok, err)
	}
	for _, v := range []uint64{5, 4} {
		if ok, err := s.Save(ctx, l, longTTL, v, []byte("old")); ok || err != nil {
			t.Fatalf("save v%d after v5 = %v, %v; want refused silently", v, ok, err)
		}
	}
	if got, _ := s.Load(ctx, "room1"); got.Version != 5 || string(got.Blob) != "v5" {
		t.Fatalf("state = %+v, want v5", got)
	}
}

// TestLapsedLeaseKept: a holder whose lease lapsed while nobody claimed the
// room (a long pause, Redis briefly away) keeps it with the same fence.
func TestLapsedLeaseKept(t *testing.T) {
	r := redistest.Start(t)
	s := openStore(t, r)
	ctx := context.Background()
	l, err := s.Claim(ctx, "room1", "a", shortTTL, 0)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the lease lapses", func() bool {
		_, err := s.Holder(ctx, "room1")
		return errors.Is(err, ErrNoHolder)
	})
	if kept, err := s.Renew(ctx, l, longTTL); err != nil || kept {
		t.Fatalf("renew of a lapsed, unclaimed lease = %v, %v; want held, state missing", kept, err)
	}
	if h, err := s.Holder(ctx, "room1"); err != nil || h != l {
		t.Fatalf("holder = %+v, %v; want %+v", h, err, l)
	}
}

// TestRedisDown: with Redis killed every operation fails fast with
// ErrUnavailable, counted by op, and redis_up drops to 0; with Redis back
// (empty: it had no persistence) the holder re-takes its room with its
// fence and learns that it must save its state again.
func TestRedisDown(t *testing.T) {
	r := redistest.Start(t)
	s := openStore(t, r)
	ctx := context.Background()
	l, err := s.Claim(ctx, "room1", "a", longTTL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(ctx, l, longTTL, 1, []byte("v1")); err != nil {
		t.Fatal(err)
	}
	r.Kill()

	before := testutil.ToFloat64(s.m.redisErrors.WithLabelValues(opSave))
	start := time.Now()
	_, err = s.Save(ctx, l, longTTL, 2, []byte("v2"))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("save with Redis down = %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > 3*s.opTimeout {
		t.Fatalf("save with Redis down took %v, more than 3×OpTimeout", took)
	}
	if got := testutil.ToFloat64(s.m.redisErrors.WithLabelValues(opSave)); got != before+1 {
		t.Fatalf("redis_errors_total{op=save} = %v, want %v", got, before+1)
	}
	if up := testutil.ToFloat64(s.m.redisUp); up != 0 {
		t.Fatalf("redis_up = %v with Redis down", up)
	}
	for name, op := range map[string]func() error{
		"heartbeat": func() error { return s.Heartbeat(ctx, NodeInfo{ID: "a"}, longTTL) },
		"nodes":     func() error { _, err := s.Nodes(ctx); return err },
		"claim":     func() error { _, err := s.Claim(ctx, "room2", "a", longTTL, 0); return err },
		"renew":     func() error { _, err := s.Renew(ctx, l, longTTL); return err },
		"load":      func() error { _, err := s.Load(ctx, "room1"); return err },
		"orphans":   func() error { _, err := s.Orphans(ctx, 10); return err },
		"holder":    func() error { _, err := s.Holder(ctx, "room1"); return err },
	} {
		if err := op(); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("%s with Redis down = %v, want ErrUnavailable", name, err)
		}
	}

	r.Restart()
	eventually(t, "the store reaches Redis again", func() bool { return s.Ping(ctx) == nil })
	if up := testutil.ToFloat64(s.m.redisUp); up != 1 {
		t.Fatalf("redis_up = %v with Redis back", up)
	}
	kept, err := s.Renew(ctx, l, longTTL)
	if err != nil || kept {
		t.Fatalf("renew on an emptied Redis = %v, %v; want held with state missing", kept, err)
	}
	if ok, err := s.Save(ctx, l, longTTL, 2, []byte("v2")); err != nil || !ok {
		t.Fatalf("re-save = %v, %v", ok, err)
	}
	other := openStore(t, r)
	if _, err := other.Claim(ctx, "room1", "b", longTTL, 0); !errors.Is(err, ErrHeld) {
		t.Fatalf("another node's claim after recovery = %v, want ErrHeld", err)
	}
	// A fresh claim after the data loss starts above the fence the claimer
	// last knew, so fences stay monotonic for it.
	if err := s.End(ctx, l, 0); err != nil {
		t.Fatal(err)
	}
	r.Restart()
	eventually(t, "Redis is back", func() bool { return s.Ping(ctx) == nil })
	l2, err := s.Claim(ctx, "room1", "a", longTTL, l.Fence+1)
	if err != nil || l2.Fence != l.Fence+1 {
		t.Fatalf("claim with minFence = %+v, %v; want fence %d", l2, err, l.Fence+1)
	}
}

// TestBadInput: empty ids are refused before reaching Redis; a bad URL is
// refused at Open.
func TestBadInput(t *testing.T) {
	if _, err := Open(Options{URL: "http://nope"}); err == nil {
		t.Fatal("Open accepted an http URL")
	}
	s, err := Open(Options{URL: "redis://127.0.0.1:1/0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Claim(ctx, "", "a", time.Second, 0); err == nil || errors.Is(err, ErrUnavailable) {
		t.Fatalf("claim of an empty room id = %v", err)
	}
	if err := s.Heartbeat(ctx, NodeInfo{}, time.Second); err == nil || errors.Is(err, ErrUnavailable) {
		t.Fatalf("heartbeat without an id = %v", err)
	}
}
