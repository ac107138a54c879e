package signal

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/seatsfu/seatsfu/internal/cluster"
	"github.com/seatsfu/seatsfu/internal/nodelink"
	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// Cluster makes the server one node of a cluster sharing a Redis
// (PROTOCOL.md §12): rooms it opens are held under a lease, their durable
// seat state is written to Redis on every change, and it takes over the
// rooms of nodes that die.
type Cluster struct {
	Store *cluster.Store
	// Node is this node's membership: Info, Tick, TTLs. Adopt, Lost and
	// LoadFunc are the server's own and are overwritten.
	Node cluster.Config
	// Listener is --node-addr: where the other nodes open their link to
	// this one (links.go). The server serves it and closes it on Shutdown.
	// Without it this node dials links but accepts none.
	Listener net.Listener
	// LinkQueue bounds each link's send queue (frames); a peer that lets
	// it fill is dropped and its sessions resume on a new link.
	LinkQueue int
	// LinkBuffer bounds the messages a relayed session keeps until the
	// other node acknowledges them, for a resume.
	LinkBuffer int
	// LinkResume is how long a relayed session waits for a new link after
	// its link dropped before it ends.
	LinkResume time.Duration
	// LinkTLS, when set, runs every node link over mutual TLS: Listener
	// accepts only TLS from peers with a certificate of the cluster's CA,
	// and links are dialled likewise (links.go). nil: plain links.
	LinkTLS *nodelink.TLS
}

// errClusterDown refuses a room this node would have to claim while Redis
// is unreachable: opening it unsafely could give one room two hosts.
var errClusterDown = withMessage(errOverloaded, "cluster state store unavailable, try again")

// clusterEdge is the server's side of the cluster: room leases around the
// hubs, the commit hook, takeovers and hand-overs.
type clusterEdge struct {
	srv   *Server
	store *cluster.Store
	node  *cluster.Node
	tick  time.Duration
	self  cluster.NodeInfo // this node as the registry lists it
	rel   *relays          // relay.go

	saversMu sync.Mutex
	savers   map[string]*roomSaver // cluster_save.go
	links    *links                // links.go
	cas      *cascades             // cascade.go

	// openMu makes opening, restoring and adopting a room one step at a
	// time, so a client's join and a takeover never open the same room
	// twice on this node.
	openMu sync.Mutex

	stop context.CancelFunc
	done chan struct{}  // closed when the node's goroutine returned
	bg   sync.WaitGroup // hand-overs and retried ends
}

func newClusterEdge(s *Server, c *Cluster) (*clusterEdge, error) {
	if c.Store == nil {
		return nil, errors.New("signal: Cluster.Store is required")
	}
	ce := &clusterEdge{srv: s, store: c.Store, done: make(chan struct{}), savers: map[string]*roomSaver{}}
	rel, err := newRelays(s.cfg.Registry)
	if err != nil {
		return nil, err
	}
	ce.rel = rel
	if ce.cas, err = newCascades(ce, s.cfg.Registry); err != nil {
		return nil, err
	}
	cfg := c.Node
	cfg.Adopt, cfg.Lost, cfg.LoadFunc = ce.adopt, ce.lost, ce.load
	node, err := cluster.NewNode(c.Store, cfg)
	if err != nil {
		return nil, err
	}
	ce.node = node
	ce.self = cfg.Info
	ce.self.ID = node.ID()
	if ce.links, err = newLinks(ce, c); err != nil {
		return nil, err
	}
	s.cfg.Webhooks.HoldUntil(ce.webhookHold) // cluster_save.go
	ce.tick = cfg.Tick
	if ce.tick <= 0 {
		ce.tick = cluster.DefaultTick
	}
	ctx, cancel := context.WithCancel(s.ctx)
	ce.stop = cancel
	go func() {
		defer close(ce.done)
		node.Run(ctx)
	}()
	return ce, nil
}

// NodeID is this node's id in the cluster, "" without one.
func (s *Server) NodeID() string {
	if s.cl == nil {
		return ""
	}
	return s.cl.node.ID()
}

// load is what the registry shows of this node.
func (c *clusterEdge) load() cluster.Load {
	c.srv.mu.Lock()
	n := len(c.srv.sessions)
	c.srv.mu.Unlock()
	return cluster.Load{Clients: n + c.srv.media.Sessions()}
}

// persist stages the room's durable state before an answer is queued
// (methods.go); the answer goes out once Redis holds it (cluster_save.go):
// an answer a client saw is in Redis, so a takeover never answers the same
// request differently.
func (s *Server) persist(r *seat.Room) {
	if s.cl != nil {
		s.cl.commit(r)
	}
}

// commit is sfu.RoomConfig.Commit: under the room's lock, after every
// successful seat operation, the room's durable state is staged — no I/O
// under the lock. The room's saver writes it, and the frames queued
// meanwhile wait for that write before they go out (cluster_save.go). An
// operation that changed nothing durable (an audience member joining, a
// message) stages nothing new and delays nothing.
func (c *clusterEdge) commit(sr *seat.Room) {
	h := c.node.Hosted(sr.ID())
	if h == nil {
		return // not (or no longer) this node's room
	}
	st, ok := sr.Durable()
	if !ok {
		c.stageEnd(h) // cluster_save.go: forgotten in Redis off the lock
		return
	}
	blob, err := cluster.EncodeState(st)
	if err != nil {
		c.srv.log.Error("cluster: encode room state", "room", sr.ID(), "err", err)
		return
	}
	c.stage(h, h.Stage(blob))
}

// end forgets an ended room in Redis. While Redis is down it retries every
// tick in the background: until then the node keeps renewing the lease of
// a room that no longer exists, which only delays its id's reuse. A room
// that ends under its lock is forgotten by its saver instead (stageEnd).
func (c *clusterEdge) end(h *cluster.Hosted) {
	if err := h.End(c.srv.ctx); err == nil || !errors.Is(err, cluster.ErrUnavailable) {
		return
	}
	c.retryEnd(h)
}

// retryEnd keeps trying to forget the room in Redis until it succeeds, or
// another node holds it, or the server stops.
func (c *clusterEdge) retryEnd(h *cluster.Hosted) {
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		t := time.NewTicker(c.tick)
		defer t.Stop()
		for {
			select {
			case <-c.srv.ctx.Done():
				return
			case <-t.C:
			}
			if err := h.End(c.srv.ctx); err == nil || !errors.Is(err, cluster.ErrUnavailable) {
				return
			}
		}
	}()
}

// openOrFind is Server.openOrFind on a cluster node: a room open here is
// served here; otherwise this node claims the room's lease, and either
// continues the room from its saved state (its host died, or it was
// handed over) or, for its owner, opens it new.
func (c *clusterEdge) openOrFind(u seat.User, roomID string, create *proto.CreateParams) (*sfu.Room, *roomHub, error) {
	c.openMu.Lock()
	defer c.openMu.Unlock()
	if r, h, found, err := c.srv.localRoom(roomID); found {
		return r, h, err
	}
	hosted, err := c.node.Host(c.srv.ctx, roomID)
	switch {
	case errors.Is(err, cluster.ErrHeld):
		return nil, nil, withMessage(seat.ErrRoomNotFound, "the room is hosted on another node")
	case err != nil:
		c.srv.log.Warn("cluster: claim room", "room", roomID, "err", err)
		return nil, nil, errClusterDown
	}
	if saved, ok := hosted.Restored(); ok {
		return c.restore(hosted, saved)
	}
	if u.Role != seat.RoleOwner {
		c.end(hosted)
		return nil, nil, seat.ErrRoomNotFound
	}
	c.srv.mu.Lock()
	full := c.srv.caps.roomsFull(len(c.srv.hubs))
	var r *sfu.Room
	var h *roomHub
	if !full {
		cfg := c.srv.newRoomConfig(u, roomID, create)
		r, h, err = c.srv.openHubLocked(roomID, sfu.RoomConfig{Seat: cfg})
		if err == nil {
			// Its first state is staged by the owner's join; the room's
			// start is not announced before Redis has it.
			c.awaitFirstState(hosted)
			h.roomStarted(u, cfg.Meta.Title) // webhooks.go; a restored room did not start again
		}
	}
	c.srv.mu.Unlock()
	if full {
		c.end(hosted)
		return nil, nil, withMessage(errOverloaded, "the server has its maximum of open rooms")
	}
	if err != nil {
		c.end(hosted)
		return nil, nil, err
	}
	return r, h, nil
}

// localRoom finds a room open on this node. found is true when the answer
// is final (the room, or an error).
func (s *Server) localRoom(roomID string) (r *sfu.Room, h *roomHub, found bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, nil, true, withMessage(seat.ErrRoomNotFound, "the server is shutting down")
	}
	if r := s.cfg.SFU.Room(roomID); r != nil {
		if h := s.hubs[roomID]; h != nil && h.room == r {
			return r, h, true, nil
		}
		return nil, nil, true, seat.ErrRoomNotFound
	}
	return nil, nil, false, nil
}

// restore continues a room from the state its previous host saved. Every
// member that host served starts its reconnect grace now and resumes by
// joining again here (cluster.RestoreRoom). A state that cannot be
// restored ends the room: no node could do better with it.
func (c *clusterEdge) restore(hosted *cluster.Hosted, saved cluster.Saved) (*sfu.Room, *roomHub, error) {
	cfg := c.srv.cfg
	sr, err := cluster.RestoreRoom(saved, seat.Config{
		Grace: cfg.ReconnectGrace, MaxMembers: cfg.MaxMembers, MaxPending: cfg.Limits.MaxPendingRequests, Clock: cfg.Clock,
	})
	if err != nil {
		c.srv.log.Error("cluster: a saved room cannot be restored; ending it", "room", hosted.Room(), "err", err)
		c.end(hosted)
		return nil, nil, seat.ErrRoomNotFound
	}
	if sr.Ended() {
		c.end(hosted)
		return nil, nil, seat.ErrRoomNotFound
	}
	c.srv.mu.Lock()
	if c.srv.closing {
		c.srv.mu.Unlock()
		return nil, nil, withMessage(seat.ErrRoomNotFound, "the server is shutting down")
	}
	r, h, err := c.srv.openHubLocked(hosted.Room(), sfu.RoomConfig{Restored: sr, Seat: seat.Config{Clock: cfg.Clock}})
	c.srv.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	// The members' disconnects are a change: save it now, not at the next
	// operation.
	_ = r.Do(func(*seat.Room) ([]seat.Delivery, error) { return nil, nil })
	c.srv.log.Info("cluster: room restored", "room", hosted.Room(), "fence", hosted.Lease().Fence)
	return r, h, nil
}

// adopt is cluster.Config.Adopt: this node won a dead node's room.
func (c *clusterEdge) adopt(_ context.Context, hosted *cluster.Hosted) error {
	c.openMu.Lock()
	defer c.openMu.Unlock()
	if _, _, found, _ := c.srv.localRoom(hosted.Room()); found {
		return nil
	}
	saved, _ := hosted.Restored()
	_, _, err := c.restore(hosted, saved)
	if errors.Is(err, seat.ErrRoomNotFound) {
		return nil // ended (or shutting down): nothing to hand back
	}
	return err
}

// lost is cluster.Config.Lost: another node holds a room this node hosted
// (its lease lapsed while this node was cut off). The room stops here
// without room.ended; its members' clients reconnect and reach the new
// host. It may be called under the room's lock (from commit), so the
// hand-over runs on its own goroutine.
func (c *clusterEdge) lost(room string) {
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		c.srv.log.Warn("cluster: another node took the room over", "room", room)
		c.abandon(room)
	}()
}

// abandon stops serving a room here without a seat decision.
func (c *clusterEdge) abandon(room string) {
	c.srv.mu.Lock()
	h := c.srv.hubs[room]
	c.srv.mu.Unlock()
	if h == nil {
		return
	}
	c.dropSaver(room)
	h.room.Abandon()
	for _, s := range h.detachAll() {
		s.closeAfterQueued(websocket.StatusGoingAway, "the room moved to another node")
	}
}

// shutdown hands this node's rooms over instead of ending them: the node
// stops renewing, writes what is staged, stops its rooms here and releases
// their leases, so another node takes them over at its next tick and the
// clients resume there. Called from Server.Shutdown.
func (c *clusterEdge) shutdown(ctx context.Context) {
	c.rel.closeAll()
	c.cas.closeAll()
	c.stop()
	<-c.done
	c.srv.mu.Lock()
	rooms := make([]string, 0, len(c.srv.hubs))
	for id := range c.srv.hubs {
		rooms = append(rooms, id)
	}
	c.srv.mu.Unlock()
	for _, id := range rooms {
		c.abandon(id)
		if h := c.node.Hosted(id); h != nil && h.Dirty() {
			_ = h.Flush(ctx)
		}
	}
	if err := c.node.Drain(ctx); err != nil {
		c.srv.log.Warn("cluster: hand over rooms", "err", err)
	}
}

// wait returns once the background hand-overs and retries are done (after
// the server's context ended), and closes the node's links: every session
// they carried has ended by then.
func (c *clusterEdge) wait() {
	c.bg.Wait()
	c.links.close()
}

// serveNodes is GET /v1/nodes: the public URLs of the cluster's live nodes
// (PROTOCOL.md §12), for clients choosing where to reconnect. 404 on a node
// without a cluster.
func (s *Server) serveNodes(w http.ResponseWriter, r *http.Request) {
	if s.cl == nil {
		http.NotFound(w, r)
		return
	}
	res := proto.NodesResult{Nodes: []proto.NodeURL{}}
	for _, n := range s.cl.node.Nodes() {
		if n.HTTPAddr != "" {
			res.Nodes = append(res.Nodes, proto.NodeURL{ID: n.ID, URL: n.HTTPAddr})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(res)
}
