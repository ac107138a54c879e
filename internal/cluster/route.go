package cluster

import (
	"context"
	"errors"
	"time"
)

// Route is where a room's signalling goes: here, or to another node.
type Route struct {
	Local bool     // this node hosts the room
	Node  NodeInfo // the hosting node (this node's own info when Local)
	Lease Lease
	// Stale is set when Redis could not be asked and a route older than
	// the cache's life was served: good enough to keep relaying over an
	// existing link while Redis is down, not to open a room on.
	Stale bool
}

// routeEntry is a cached answer of Store.Holder.
type routeEntry struct {
	lease     Lease
	at        time.Time
	nodesRead bool // the registry was read again for this lease's holder (readNodes)
}

// Route says which node hosts room. Answers are cached for one Tick, so a
// burst of joins costs one Redis read; Forget drops an answer that proved
// wrong (a relay refused with "not hosted here", a link that broke).
// ErrNoHolder: nobody hosts the room — it does not exist, or it awaits a
// takeover (Host claims it: any node may). ErrHeld never comes back from
// here; a holder missing from the registry (read again when this node's
// tick-old list lacks it: readNodes) is reported as ErrNoHolder, as its
// lease is about to expire.
func (n *Node) Route(ctx context.Context, room string) (Route, error) {
	if h := n.Hosted(room); h != nil && !h.Lost() {
		return Route{Local: true, Node: n.cfg.Info, Lease: h.lease}, nil
	}
	now := n.cfg.Clock.Now()
	n.mu.Lock()
	e, cached := n.routes[room]
	n.mu.Unlock()
	stale := false
	if !cached || now.Sub(e.at) >= n.cfg.Tick {
		l, err := n.store.Holder(ctx, room)
		switch {
		case err == nil:
			e = routeEntry{lease: l, at: now}
			n.mu.Lock()
			n.routes[room] = e
			n.mu.Unlock()
		case errors.Is(err, ErrUnavailable) && cached && now.Sub(e.at) < routeKeep:
			stale = true
		default:
			n.Forget(room)
			return Route{}, err
		}
	}
	if e.lease.Node == n.ID() {
		// Redis says this node, but it does not host the room (it was
		// lost or ended a moment ago): nobody serves it here.
		n.Forget(room)
		return Route{}, ErrNoHolder
	}
	if ni, ok := n.liveNode(e.lease.Node); ok {
		return Route{Node: ni, Lease: e.lease, Stale: stale}, nil
	}
	if !e.nodesRead && n.readNodes(ctx, room, e) {
		if ni, ok := n.liveNode(e.lease.Node); ok {
			return Route{Node: ni, Lease: e.lease, Stale: stale}, nil
		}
	}
	return Route{}, ErrNoHolder
}

// liveNode is the node id as the last read of the registry saw it.
func (n *Node) liveNode(id string) (NodeInfo, bool) {
	for _, ni := range n.Nodes() {
		if ni.ID == id {
			return ni, true
		}
	}
	return NodeInfo{}, false
}

// readNodes reads the registry again for a lease whose holder this node's
// list does not show, and reports whether it could. The list is a tick
// old: a node that started since (and whose owner opened a room on it at
// once) is live in Redis but not in it, and its room must not be reported
// as hosted by nobody — a client reaching this node would be refused a
// room that exists. Once per cached route, so a holder that really died
// (its lease about to expire) costs one extra read per room per tick, not
// one per join.
func (n *Node) readNodes(ctx context.Context, room string, e routeEntry) bool {
	n.mu.Lock()
	if cur, ok := n.routes[room]; ok && cur.at.Equal(e.at) && cur.lease == e.lease {
		cur.nodesRead = true
		n.routes[room] = cur
	}
	n.mu.Unlock()
	nodes, err := n.store.Nodes(ctx)
	if err != nil {
		return false
	}
	n.mu.Lock()
	n.nodes = nodes
	n.mu.Unlock()
	return true
}

// Forget drops the cached route of room.
func (n *Node) Forget(room string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.routes, room)
}
