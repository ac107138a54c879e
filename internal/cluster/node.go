package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Defaults of Config. A dead node's rooms are taken over within
// LeaseTTL + Tick (3.5 s), inside PROTOCOL.md §12's 5 s.
const (
	DefaultTick         = 500 * time.Millisecond
	DefaultNodeTTL      = 3 * time.Second
	DefaultLeaseTTL     = 3 * time.Second
	DefaultEndRetention = 24 * time.Hour
	DefaultTakeovers    = 16
)

// Clock is the node's source of local time (leases' local validity).
// Expiry itself is Redis's: keys' TTLs and TIME inside the scripts.
type Clock interface{ Now() time.Time }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// Config runs a Node.
type Config struct {
	// Info is what other nodes see; ID is generated when empty. Load is
	// filled on every heartbeat from LoadFunc.
	Info     NodeInfo
	LoadFunc func() Load
	// Tick paces heartbeats, lease renewals, retried flushes and takeover
	// scans (one goroutine, one round trip per kind of work per tick).
	Tick     time.Duration
	NodeTTL  time.Duration // a node missing heartbeats this long is dead
	LeaseTTL time.Duration // a room whose holder misses renewals this long is taken over
	// EndRetention keeps an ended room's fence counter, so a new room under
	// the same id still gets larger fences.
	EndRetention time.Duration
	// MaxTakeovers bounds the rooms one tick claims, so a node that finds
	// many orphans leaves some to its peers.
	MaxTakeovers int
	Clock        Clock

	// Adopt rebuilds a room this node won in a takeover (from the node's
	// goroutine; keep it short). Returning an error releases the room at
	// once for another node to take.
	Adopt func(ctx context.Context, h *Hosted) error
	// Lost tells the caller that another node holds a room it hosted: it
	// must stop hosting it (its clients reconnect and reach the new host).
	// Called once per room, from whichever goroutine learned it.
	Lost func(room string)
}

// Node is this process as a member of the cluster: it keeps itself in the
// registry, keeps the leases of the rooms it hosts, writes their state,
// and takes over rooms whose hosting node died.
type Node struct {
	store *Store
	cfg   Config

	mu     sync.Mutex
	hosted map[string]*Hosted
	nodes  []NodeInfo
	routes map[string]routeEntry // Route's cache, bounded by pruneRoutes
}

// NewNode prepares a node; Run makes it live.
func NewNode(store *Store, cfg Config) (*Node, error) {
	if cfg.Info.ID == "" {
		cfg.Info.ID = NewNodeID()
	}
	if err := checkID("node", cfg.Info.ID); err != nil {
		return nil, err
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Tick, DefaultTick)
	def(&cfg.NodeTTL, DefaultNodeTTL)
	def(&cfg.LeaseTTL, DefaultLeaseTTL)
	def(&cfg.EndRetention, DefaultEndRetention)
	if cfg.MaxTakeovers <= 0 {
		cfg.MaxTakeovers = DefaultTakeovers
	}
	if cfg.Clock == nil {
		cfg.Clock = wallClock{}
	}
	if cfg.Tick >= cfg.LeaseTTL || cfg.Tick >= cfg.NodeTTL {
		return nil, fmt.Errorf("cluster: tick %v must be shorter than the node TTL %v and the lease TTL %v",
			cfg.Tick, cfg.NodeTTL, cfg.LeaseTTL)
	}
	return &Node{store: store, cfg: cfg, hosted: make(map[string]*Hosted), routes: make(map[string]routeEntry)}, nil
}

// ID is this node's id.
func (n *Node) ID() string { return n.cfg.Info.ID }

// Nodes is the live nodes as the registry was last read: each tick, and
// by Route for a room's holder the list did not show (route.go).
func (n *Node) Nodes() []NodeInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]NodeInfo(nil), n.nodes...)
}

// Hosted returns this node's hold on a room, nil if it does not host it.
func (n *Node) Hosted(room string) *Hosted {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.hosted[room]
}

// Host makes this node the room's hosting node: it claims the room's lease
// (ErrHeld with the holder when another live node hosts it; the caller
// relays to that node) and loads any state the room left (Restored). With
// Redis down it is ErrUnavailable: a new room is refused, never opened
// unsafely.
func (n *Node) Host(ctx context.Context, room string) (*Hosted, error) {
	if h := n.Hosted(room); h != nil {
		return h, nil
	}
	start := n.cfg.Clock.Now()
	l, err := n.store.Claim(ctx, room, n.ID(), n.cfg.LeaseTTL, 0)
	if err != nil {
		return nil, err
	}
	h := &Hosted{n: n, lease: l, validUntil: start.Add(n.cfg.LeaseTTL)}
	saved, err := n.store.Load(ctx, room)
	switch {
	case err == nil:
		h.restored = &saved
		h.staged, h.persisted, h.blob = saved.Version, saved.Version, saved.Blob
	case !errors.Is(err, ErrNoState):
		// Unknown whether a state exists: do not start the room empty.
		_ = n.store.Release(context.WithoutCancel(ctx), l)
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if prev := n.hosted[room]; prev != nil {
		return prev, nil // a concurrent Host of the same room won the race here
	}
	n.hosted[room] = h
	n.store.m.hosted.Set(float64(len(n.hosted)))
	return h, nil
}

// Run is the node's one goroutine: every Tick it heartbeats, renews its
// leases (one pipeline), writes states a failed flush left staged, and
// takes over orphaned rooms. It returns when ctx ends, holding its leases:
// a stopped node looks dead to the others, who take its rooms over (Drain
// first for a clean hand-over).
func (n *Node) Run(ctx context.Context) {
	t := time.NewTicker(n.cfg.Tick)
	defer t.Stop()
	for {
		n.tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (n *Node) tick(ctx context.Context) {
	info := n.cfg.Info
	if n.cfg.LoadFunc != nil {
		info.Load = n.cfg.LoadFunc()
	}
	info.Load.Rooms = len(n.snapshot())
	if err := n.store.Heartbeat(ctx, info, n.cfg.NodeTTL); err != nil {
		return // Redis unreachable: counted; the rooms run on; next tick
	}
	if nodes, err := n.store.Nodes(ctx); err == nil {
		n.mu.Lock()
		n.nodes = nodes
		n.mu.Unlock()
	}
	n.renew(ctx)
	n.takeover(ctx)
	n.pruneRoutes()
}

// pruneRoutes drops cached routes too old to be served, so the cache holds
// only rooms asked about lately, not every room ever routed.
func (n *Node) pruneRoutes() {
	now := n.cfg.Clock.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	for room, e := range n.routes {
		if now.Sub(e.at) >= routeKeep {
			delete(n.routes, room)
		}
	}
}

// routeKeep is how long a cached route may serve, stale, while Redis is
// unreachable: links already relaying keep their room's route that long.
const routeKeep = 5 * time.Minute

// snapshot lists the hosted rooms.
func (n *Node) snapshot() []*Hosted {
	n.mu.Lock()
	defer n.mu.Unlock()
	hs := make([]*Hosted, 0, len(n.hosted))
	for _, h := range n.hosted {
		hs = append(hs, h)
	}
	return hs
}

// renew extends every hosted lease in one round trip, drops the rooms
// another node took, and writes states Redis is missing.
func (n *Node) renew(ctx context.Context) {
	hs := n.snapshot()
	if len(hs) == 0 {
		return
	}
	ls := make([]Lease, len(hs))
	for i, h := range hs {
		ls[i] = h.lease
	}
	start := n.cfg.Clock.Now()
	res, err := n.store.RenewAll(ctx, ls, n.cfg.LeaseTTL)
	if err != nil {
		return
	}
	for i, h := range hs {
		if errors.Is(res[i].Err, ErrFenced) {
			n.lose(h)
			continue
		}
		h.renewed(start, res[i].StateKept)
		if h.Dirty() {
			_ = h.Flush(ctx) // failures stay staged for the next tick
		}
	}
}

// takeover claims rooms whose lease expired. Every live node scans; the
// claim script lets exactly one win each room, so no coordination is
// needed beyond it. A room without state is ended: nothing to carry on.
func (n *Node) takeover(ctx context.Context) {
	orphans, err := n.store.Orphans(ctx, n.cfg.MaxTakeovers)
	if err != nil {
		return
	}
	for _, room := range orphans {
		if n.Hosted(room) != nil {
			continue // ours and lapsed: renew takes it back
		}
		h, err := n.Host(ctx, room)
		if err != nil {
			continue // another node won it, or Redis went away
		}
		if _, ok := h.Restored(); !ok {
			_ = h.End(ctx)
			continue
		}
		n.store.m.takeovers.Inc()
		if n.cfg.Adopt == nil {
			continue
		}
		if err := n.cfg.Adopt(ctx, h); err != nil {
			n.forget(h)
			_ = n.store.Release(ctx, h.lease)
		}
	}
}

// Drain hands every hosted room over for immediate takeover and leaves the
// registry: a clean shutdown that does not wait for TTLs. Stop Run first
// (its next heartbeat would register the node again) and stop serving the
// rooms.
func (n *Node) Drain(ctx context.Context) error {
	var errs []error
	for _, h := range n.snapshot() {
		h.mu.Lock()
		h.lost = true // handed over on purpose: no Lost callback
		h.mu.Unlock()
		n.forget(h)
		errs = append(errs, n.store.Release(ctx, h.lease))
	}
	errs = append(errs, n.store.Leave(ctx, n.ID()))
	return errors.Join(errs...)
}

// lose marks h as taken over by another node, forgets it and tells the
// caller once.
func (n *Node) lose(h *Hosted) {
	h.mu.Lock()
	already := h.lost
	h.lost = true
	h.mu.Unlock()
	if already {
		return
	}
	n.forget(h)
	n.store.m.fenced.Inc()
	if n.cfg.Lost != nil {
		n.cfg.Lost(h.lease.Room)
	}
}

// forget drops h from the hosted rooms (if it is still the one there).
func (n *Node) forget(h *Hosted) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.hosted[h.lease.Room] == h {
		delete(n.hosted, h.lease.Room)
	}
	n.store.m.hosted.Set(float64(len(n.hosted)))
}
