package cluster

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/internal/redistest"
)

// testNode is a Node running in its own goroutine until stop (or the
// test's end), and what its callbacks saw.
type testNode struct {
	*Node
	stop    func()
	adopted chan *Hosted
	lost    chan string
}

func startNode(t *testing.T, r *redistest.Server, id string, tune func(*Config)) *testNode {
	t.Helper()
	tn := &testNode{adopted: make(chan *Hosted, 16), lost: make(chan string, 16)}
	cfg := Config{
		Info:     NodeInfo{ID: id, NodeAddr: "127.0.0.1:1" + id, HTTPAddr: "127.0.0.1:2" + id},
		Tick:     50 * time.Millisecond,
		NodeTTL:  shortTTL,
		LeaseTTL: shortTTL,
		Adopt: func(_ context.Context, h *Hosted) error {
			tn.adopted <- h
			return nil
		},
		Lost: func(room string) { tn.lost <- room },
	}
	if tune != nil {
		tune(&cfg)
	}
	n, err := NewNode(openStore(t, r), cfg)
	if err != nil {
		t.Fatal(err)
	}
	tn.Node = n
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); n.Run(ctx) }()
	var once sync.Once
	tn.stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(tn.stop)
	return tn
}

// TestTakeoverWithinFiveSeconds: with the default lease and tick, the
// room of a node that stops (as a SIGKILL would stop it: no release, no
// leave) is hosted by another node within PROTOCOL.md §12's 5 s, with the
// last state the dead node saved; the dead node, should it wake, is
// fenced and told once.
func TestTakeoverWithinFiveSeconds(t *testing.T) {
	r := redistest.Start(t)
	defaults := func(c *Config) { c.Tick, c.NodeTTL, c.LeaseTTL = 0, 0, 0 }
	a := startNode(t, r, "a", defaults)
	b := startNode(t, r, "b", defaults)
	ctx := context.Background()
	h, err := a.Host(ctx, "room1")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := h.Restored(); ok {
		t.Fatal("a new room came with a restored state")
	}
	for _, s := range []string{"s1", "s2", "s3"} {
		if err := h.Save(ctx, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Host(ctx, "room1"); !errors.Is(err, ErrHeld) {
		t.Fatalf("b opening a's room = %v, want ErrHeld", err)
	}

	a.stop()
	died := time.Now()
	var got *Hosted
	select {
	case got = <-b.adopted:
	case <-time.After(patience):
		t.Fatal("nobody took the room over")
	}
	took := time.Since(died)
	t.Logf("takeover took %v (lease %v, tick %v)", took, DefaultLeaseTTL, DefaultTick)
	if took > 5*time.Second {
		t.Fatalf("takeover took %v, more than 5 s", took)
	}
	saved, ok := got.Restored()
	if !ok || string(saved.Blob) != "s3" || saved.Version != 3 {
		t.Fatalf("b adopted %+v, want a's last state s3 v3", saved)
	}
	if got.Lease().Fence <= h.Lease().Fence || b.Hosted("room1") != got {
		t.Fatalf("b holds %+v, a held %+v", got.Lease(), h.Lease())
	}
	// a wakes up and writes: refused, and it learns it lost the room.
	if err := h.Save(ctx, []byte("stale")); !errors.Is(err, ErrFenced) {
		t.Fatalf("the dead node's save = %v, want ErrFenced", err)
	}
	if room := <-a.lost; room != "room1" {
		t.Fatalf("lost %q", room)
	}
	if err := h.Save(ctx, []byte("stale2")); !errors.Is(err, ErrFenced) || len(a.lost) != 0 {
		t.Fatalf("a second stale save = %v with %d more Lost calls", err, len(a.lost))
	}
	if a.Hosted("room1") != nil {
		t.Fatal("the fenced node still lists the room")
	}
	// b carries on from version 3.
	if err := got.Save(ctx, []byte("b4")); err != nil {
		t.Fatal(err)
	}
	if s, err := b.store.Load(ctx, "room1"); err != nil || s.Version != 4 || string(s.Blob) != "b4" {
		t.Fatalf("state after b's save = %+v, %v", s, err)
	}
}

// TestTakeoverOneWinner: three live nodes scan for the dead node's rooms at
// once; each room is adopted by exactly one of them, and stays there.
func TestTakeoverOneWinner(t *testing.T) {
	r := redistest.Start(t)
	// a's short lease makes the takeover quick; the adopters' long ones
	// keep what they took however late a loaded machine runs their ticks.
	a := startNode(t, r, "a", nil)
	steady := func(c *Config) { c.LeaseTTL, c.NodeTTL = longTTL, longTTL }
	others := []*testNode{startNode(t, r, "b", steady), startNode(t, r, "c", steady), startNode(t, r, "d", steady)}
	ctx := context.Background()
	rooms := []string{"r1", "r2", "r3", "r4", "r5", "r6"}
	for _, room := range rooms {
		h, err := a.Host(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Save(ctx, []byte("state of "+room)); err != nil {
			t.Fatal(err)
		}
	}
	a.stop()
	adopter := map[string]string{}
	deadline := time.After(patience)
	for len(adopter) < len(rooms) {
		for _, o := range others {
			select {
			case h := <-o.adopted:
				if prev, dup := adopter[h.Room()]; dup {
					t.Fatalf("room %s adopted by %s and %s", h.Room(), prev, o.ID())
				}
				if s, _ := h.Restored(); string(s.Blob) != "state of "+h.Room() {
					t.Fatalf("%s adopted %s with state %q", o.ID(), h.Room(), s.Blob)
				}
				adopter[h.Room()] = o.ID()
			default:
			}
		}
		select {
		case <-deadline:
			t.Fatalf("only %d of %d rooms were taken over: %v", len(adopter), len(rooms), adopter)
		case <-time.After(10 * time.Millisecond):
		}
	}
	// Several more leases' worth of ticks: nobody adopts again, nobody
	// loses a room, and Redis agrees with the adopters.
	time.Sleep(3 * shortTTL)
	for _, o := range others {
		if len(o.adopted) != 0 || len(o.lost) != 0 {
			t.Fatalf("%s adopted %d and lost %d rooms after the takeover settled", o.ID(), len(o.adopted), len(o.lost))
		}
	}
	for room, id := range adopter {
		if l, err := others[0].store.Holder(ctx, room); err != nil || l.Node != id {
			t.Fatalf("Redis says %s is held by %+v (%v), adopter %s", room, l, err, id)
		}
	}
	t.Logf("adopters: %v", adopter)
}

// TestNodeRedisDown: with Redis gone the node keeps its rooms, refuses new
// ones with ErrUnavailable and keeps changes staged; when Redis returns
// (empty) it registers again, keeps its lease with its fence and writes
// the newest state, without the caller doing anything.
func TestNodeRedisDown(t *testing.T) {
	r := redistest.Start(t)
	a := startNode(t, r, "a", func(c *Config) { c.LeaseTTL, c.NodeTTL = longTTL, longTTL })
	ctx := context.Background()
	h, err := a.Host(ctx, "room1")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Save(ctx, []byte("v1")); err != nil {
		t.Fatal(err)
	}
	r.Kill()
	if _, err := a.Host(ctx, "room2"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("opening a room with Redis down = %v, want ErrUnavailable", err)
	}
	if err := h.Save(ctx, []byte("v2")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("save with Redis down = %v, want ErrUnavailable", err)
	}
	h.Stage([]byte("v3"))
	if !h.Dirty() || a.Hosted("room1") != h || h.Lost() {
		t.Fatal("the room was dropped or its change forgotten while Redis was down")
	}
	other := openStore(t, r)
	r.Restart()
	eventually(t, "the node writes its newest state to the returned Redis", func() bool {
		s, err := other.Load(ctx, "room1")
		return err == nil && string(s.Blob) == "v3"
	})
	eventually(t, "the node is registered again", func() bool {
		ns, err := other.Nodes(ctx)
		return err == nil && len(ns) == 1 && ns[0].ID == "a" && ns[0].Load.Rooms == 1
	})
	if l, err := other.Holder(ctx, "room1"); err != nil || l != h.Lease() {
		t.Fatalf("holder after recovery = %+v, %v; want %+v", l, err, h.Lease())
	}
	if h.Dirty() || !h.Held() {
		t.Fatalf("after recovery dirty=%v held=%v", h.Dirty(), h.Held())
	}
	if _, err := a.Host(ctx, "room2"); err != nil {
		t.Fatalf("opening a room after recovery: %v", err)
	}
}

// manualClock is moved by the test.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestHeldByLocalClock: Held trusts a lease only for LeaseTTL after Redis
// last acknowledged it, by the node's clock, and a renewal extends it.
func TestHeldByLocalClock(t *testing.T) {
	r := redistest.Start(t)
	clock := &manualClock{now: time.Unix(1_700_000_000, 0)}
	n, err := NewNode(openStore(t, r), Config{Info: NodeInfo{ID: "a"}, Tick: time.Second, LeaseTTL: longTTL, NodeTTL: longTTL, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h, err := n.Host(ctx, "room1")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(longTTL - time.Nanosecond)
	if !h.Held() {
		t.Fatal("lease not held just before its TTL")
	}
	clock.Advance(time.Nanosecond)
	if h.Held() {
		t.Fatal("lease still held by the local clock after its TTL without a renewal")
	}
	n.tick(ctx)
	if !h.Held() {
		t.Fatal("a renewal did not extend the lease")
	}
}

// TestNewNodeRefusesBadConfig: a tick not shorter than the TTLs could let
// leases lapse between renewals.
func TestNewNodeRefusesBadConfig(t *testing.T) {
	s, err := Open(Options{URL: "redis://127.0.0.1:1/0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := NewNode(s, Config{Tick: 3 * time.Second, LeaseTTL: time.Second}); err == nil {
		t.Fatal("NewNode accepted a tick longer than the lease")
	}
	n, err := NewNode(s, Config{})
	if err != nil || len(n.ID()) != 16 {
		t.Fatalf("defaults: %v, id %q", err, n.ID())
	}
}

// TestEndAndDrain: an ended room is gone from Redis and never reported
// lost; a drained node's rooms are taken over at once (no TTL wait) by a
// live node, the drained node leaves the registry and is told nothing.
func TestEndAndDrain(t *testing.T) {
	r := redistest.Start(t)
	steady := func(c *Config) { c.LeaseTTL, c.NodeTTL = longTTL, longTTL }
	a, b := startNode(t, r, "a", steady), startNode(t, r, "b", steady)
	ctx := context.Background()
	ended, err := a.Host(ctx, "ended")
	if err != nil {
		t.Fatal(err)
	}
	if err := ended.Save(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := ended.End(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.Load(ctx, "ended"); !errors.Is(err, ErrNoState) || a.Hosted("ended") != nil {
		t.Fatalf("an ended room left state (%v) or a hold", err)
	}
	moved, err := a.Host(ctx, "moved")
	if err != nil {
		t.Fatal(err)
	}
	if err := moved.Save(ctx, []byte("m")); err != nil {
		t.Fatal(err)
	}
	a.stop() // a clean shutdown stops the tick first, then drains
	if err := a.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case h := <-b.adopted:
		if s, _ := h.Restored(); h.Room() != "moved" || string(s.Blob) != "m" {
			t.Fatalf("b adopted %s with %q", h.Room(), s.Blob)
		}
	case <-time.After(patience):
		t.Fatal("the drained room was not taken over")
	}
	ns, err := b.store.Nodes(ctx)
	if err != nil || len(ns) != 1 || ns[0].ID != "b" {
		t.Fatalf("nodes after a's drain: %v, %v", ids(ns), err)
	}
	if len(a.lost) != 0 {
		t.Fatalf("a was told it lost %d rooms it ended or drained", len(a.lost))
	}
}

// TestStageUnchangedIsFree: staging the same blob again is no new version
// and no write; a different one is.
func TestStageUnchangedIsFree(t *testing.T) {
	r := redistest.Start(t)
	n, err := NewNode(openStore(t, r), Config{Info: NodeInfo{ID: "a"}, LeaseTTL: longTTL, NodeTTL: longTTL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h, err := n.Host(ctx, "room1")
	if err != nil {
		t.Fatal(err)
	}
	v1 := h.Stage([]byte("same"))
	if err := h.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if v := h.Stage([]byte("same")); v != v1 || h.Dirty() {
		t.Fatalf("an unchanged blob got version %d (was %d), dirty=%v", v, v1, h.Dirty())
	}
	if v := h.Stage([]byte("other")); v != v1+1 || !h.Dirty() {
		t.Fatalf("a changed blob got version %d, dirty=%v", v, h.Dirty())
	}
}

// TestFlushAfterEndKeepsTheRoomEnded: a state staged before the room's end
// and flushed after it — a write that arrives late — neither brings the
// room back in Redis nor reports the ended room as lost.
func TestFlushAfterEndKeepsTheRoomEnded(t *testing.T) {
	r := redistest.Start(t)
	a := startNode(t, r, "a", func(c *Config) { c.LeaseTTL, c.NodeTTL = longTTL, longTTL })
	ctx := context.Background()
	h, err := a.Host(ctx, "room1")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Save(ctx, []byte("v1")); err != nil {
		t.Fatal(err)
	}
	h.Stage([]byte("v2")) // staged, not yet written, when the room ends
	if err := h.End(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.Flush(ctx); !errors.Is(err, ErrFenced) {
		t.Fatalf("a flush after the end: %v, want ErrFenced", err)
	}
	// The write reaching Redis anyway (as from a flush already past its
	// check) is refused by the fence.
	if _, err := a.store.Save(ctx, h.Lease(), longTTL, 9, []byte("late")); !errors.Is(err, ErrFenced) {
		t.Fatalf("a late save after the end: %v, want ErrFenced", err)
	}
	if _, err := a.store.Load(ctx, "room1"); !errors.Is(err, ErrNoState) {
		t.Fatalf("the ended room is back in Redis: %v", err)
	}
	if len(a.lost) != 0 {
		t.Fatal("the ended room was reported lost")
	}
}
