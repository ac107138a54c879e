package signal

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatsfu/seatsfu/internal/cluster"
	"github.com/seatsfu/seatsfu/internal/nodelink"
	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/token"
)

// The signalling relay (PROTOCOL.md §12): a client whose WebSocket reaches
// a node that does not host its room is relayed to the hosting node, so
// any node accepts any client for any room.
//
// The edge (the node the client reached) verifies the token, keeps the
// client's socket and carries it as one session over its link to the host
// (links.go): "open" with the client's token, then every frame both ways
// as numbered messages, then "close" with the close code. The host serves
// the session exactly as a direct socket (linkhost.go) — the seat
// controller, rate limits, token expiry — so every answer, notification and
// close code is the host's. rtc.publish is relayed too: its SDP answer, and
// so the publisher's media, terminates on the host; a viewer's
// rtc.subscribe is served by this node's cascade (cascade.go).
//
// When the link drops (a network break, a host too slow for its queue),
// the edge dials the host again and resumes each session where it was:
// nothing lost, nothing twice (nodelink.Stream). A host that does not come
// back within --link-resume closes the client's socket with 1001; the
// client reconnects to any node and resumes within the reconnect grace.

// relayedHeader marks a socket the host opens for a relayed session: it is
// served there even if the host's own route is stale, so two nodes never
// relay a client in a loop.
const relayedHeader = "X-Seatsfu-Relayed"

// relays are the edge's relayed client sockets, closed on Shutdown.
type relays struct {
	mu     sync.Mutex
	conns  map[*websocket.Conn]struct{}
	active prometheus.Gauge
}

func newRelays(reg prometheus.Registerer) (*relays, error) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "seatsfu", Name: "cluster_relayed_sockets",
		Help: "Client WebSockets this node relays to the room's hosting node."})
	if err := reg.Register(g); err != nil {
		return nil, err
	}
	return &relays{conns: make(map[*websocket.Conn]struct{}), active: g}, nil
}

// relay serves r by relaying it to the room's host, and reports whether it
// did. It does not when this node may serve the room itself (it hosts it,
// nobody does, or the host is unreachable: the client then gets this
// node's own answer, room_not_found while a takeover is pending). A socket
// served here is asked again at each room.join (handover.go).
func (c *clusterEdge) relay(w http.ResponseWriter, r *http.Request, raw string, id token.Identity) bool {
	if r.Header.Get(relayedHeader) != "" {
		return false
	}
	host, ok := c.hostElsewhere(r.Context(), id.Room)
	if !ok {
		return false
	}
	e := c.openEdge(r.Context(), id.Room, userOf(id), host, raw)
	if e == nil {
		return false
	}
	defer c.links.dropEdge(e)
	down, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true}) // as serveRTC
	if err != nil {
		_ = e.st.Control(frameClose, closePayload{Code: int(websocket.StatusGoingAway), Reason: "client upgrade failed"})
		return true
	}
	down.SetReadLimit(maxFrame)
	c.serveRelayed(e, down, id, viaMemory(r))
	return true
}

// hostElsewhere is the node hosting room when it is another node that can
// be linked to.
func (c *clusterEdge) hostElsewhere(ctx context.Context, room string) (cluster.NodeInfo, bool) {
	rt, err := c.node.Route(ctx, room)
	if err != nil || rt.Local || rt.Node.NodeAddr == "" {
		return cluster.NodeInfo{}, false
	}
	return rt.Node, true
}

// openEdge opens a relayed session for the token raw, which speaks for
// user, at host over the pair's link; nil when the host cannot be reached
// (its route is then forgotten, so the next try asks Redis again).
func (c *clusterEdge) openEdge(ctx context.Context, room string, user seat.User, host cluster.NodeInfo, raw string) *edgeSession {
	dctx, cancel := context.WithTimeout(ctx, c.srv.cfg.Limits.JoinTimeout)
	defer cancel()
	l, err := c.links.get(dctx, host)
	if err != nil {
		c.srv.log.Debug("cluster: link to the room's host", "room", room, "host", host.ID, "err", err)
		c.node.Forget(room)
		return nil
	}
	e := c.links.newEdge(room, user, host, l)
	if err := e.st.Control(frameOpen, openPayload{Token: raw}); err != nil {
		c.links.dropEdge(e)
		c.node.Forget(room)
		return nil
	}
	return e
}

// serveRelayed runs the client's socket down as the relayed session e
// until either side ends it. internal marks this node's own socket (the
// cascade's, over linkClient).
func (c *clusterEdge) serveRelayed(e *edgeSession, down *websocket.Conn, id token.Identity, internal bool) {
	if !c.rel.add(down) {
		_ = e.st.Control(frameClose, closePayload{Code: int(websocket.StatusGoingAway), Reason: "server shutdown"})
		_ = down.Close(websocket.StatusGoingAway, "server shutdown")
		return
	}
	defer c.rel.remove(down)
	target, _ := c.publicRTC(e.host)
	st := &relayState{user: id.UserID, room: id.Room, target: target} // cascade.go
	defer st.end(c.cas)
	e.serve(down, st, internal)
}

// publicRTC is node's /v1/rtc as clients (and the cascade) reach it.
func (c *clusterEdge) publicRTC(node cluster.NodeInfo) (string, bool) {
	u := strings.TrimSuffix(node.HTTPAddr, "/")
	switch {
	case strings.HasPrefix(u, "https://"):
		u = "wss://" + strings.TrimPrefix(u, "https://")
	case strings.HasPrefix(u, "http://"):
		u = "ws://" + strings.TrimPrefix(u, "http://")
	default:
		return "", false
	}
	return u + "/v1/rtc", true
}

// edgeSession is one relayed client socket on the edge.
type edgeSession struct {
	lk   *links
	st   *nodelink.Stream
	room string
	user string // the member the client's token speaks for
	host cluster.NodeInfo
	out  *edgeQueue // from the host to the client: messages and the close
	// resumed receives the host's "resumed" (on the link it came over).
	resumed  chan *nodelink.Link
	resuming atomic.Bool

	ctx    context.Context
	cancel context.CancelFunc
	// drop bounds every write and ping to the client. It ends only when
	// the client is cut (edgeEnd.cut): a write blocked on a client that
	// reads nothing ends then, not a ping timeout later. It is no child of
	// ctx, so the close frame of every other end is still written.
	drop   context.Context
	dropIt context.CancelFunc
	once   sync.Once
	end    edgeEnd // why the session ended, set once
}

// edgeEnd is how a relayed session ended: the close code, and which side
// still has to hear it.
type edgeEnd struct {
	code       websocket.StatusCode
	reason     string
	tellHost   bool
	tellClient bool
	// cut drops the client's connection at once, without a close frame,
	// as a direct socket's full queue does: a client that reads nothing
	// would not read one.
	cut bool
}

// newEdge makes the relayed session of user's socket. Its queue is
// bounded by the role of user's token, as the host bounds the socket it
// serves (hub.go); a role the server API gives later follows
// (followRole). A role the API gave before the socket connected is the
// host's alone (its hub's roles): nothing the host sends says so, so the
// edge keeps the token's bound until the next room.roleChanged
// (PROTOCOL.md §12).
func (lk *links) newEdge(room string, user seat.User, host cluster.NodeInfo, l *nodelink.Link) *edgeSession {
	ctx, cancel := context.WithCancel(lk.ctx)
	drop, dropIt := context.WithCancel(context.Background())
	e := &edgeSession{
		lk: lk, st: nodelink.NewStream(newSessionID(), lk.buffer), room: room, user: user.UserID, host: host,
		out: newEdgeQueue(lk.c.srv.queueLimitFor(user.Role)), resumed: make(chan *nodelink.Link, 1),
		ctx: ctx, cancel: cancel, drop: drop, dropIt: dropIt,
	}
	e.st.Attach(l, 0)
	lk.mu.Lock()
	lk.edges[e.st.ID()] = e
	lk.mu.Unlock()
	return e
}

func (lk *links) dropEdge(e *edgeSession) {
	e.cancel()
	e.dropIt() // the session's socket is closed by now, or never was
	lk.mu.Lock()
	delete(lk.edges, e.st.ID())
	lk.mu.Unlock()
}

// finish records why the session ends (the first cause wins) and stops
// it. It reports whether end was the cause.
func (e *edgeSession) finish(end edgeEnd) bool {
	first := false
	e.once.Do(func() {
		first = true
		e.end = end
		if end.cut {
			e.dropIt()
		}
		e.cancel()
	})
	return first
}

// frame takes one frame from the host (on the link's reader: no blocking).
func (e *edgeSession) frame(l *nodelink.Link, f nodelink.Frame) {
	switch f.Kind {
	case frameResumed:
		ack, err := nodelink.ParseResume(f.Payload)
		if err != nil {
			e.finish(edgeEnd{code: websocket.StatusInternalError, reason: "relay: bad resume", tellHost: true, tellClient: true})
			return
		}
		e.st.Attach(l, ack)
		select {
		case e.resumed <- l:
		default:
		}
		return
	case frameClose:
	default:
		m, fresh, err := e.st.Receive(f)
		if err != nil {
			e.finish(edgeEnd{code: websocket.StatusInternalError, reason: "relay: " + err.Error(), tellHost: true, tellClient: true})
			return
		}
		if !fresh {
			return
		}
		e.followRole(m.Text)
	}
	if !e.out.push(f) {
		e.tooSlow()
	}
}

// followRole gives the client's queue the bound of the role the server
// API gives its member, as the host does for the socket it serves
// (webhooks.go): the edge hears of it as the client does, by
// room.roleChanged (to everyone), before any notification the new role
// brings. Only that note is decoded; every other frame costs a substring
// search.
func (e *edgeSession) followRole(text string) {
	if !strings.Contains(text, proto.NoteRoomRoleChanged) {
		return
	}
	var note struct {
		Method string            `json:"method"`
		Params proto.RoleChanged `json:"params"`
	}
	if json.Unmarshal([]byte(text), &note) != nil || note.Method != proto.NoteRoomRoleChanged || note.Params.User.UserID != e.user {
		return
	}
	e.out.setLimit(e.lk.c.srv.queueLimitFor(seat.Role(note.Params.User.Role)))
}

// tooSlow cuts a client that reads slower than its room talks, as a
// direct socket's full queue does (session.tooSlow): said once, counted
// as out_queue (host_out_queue for a host), and no close frame. The host hears 1001 and drops the
// member as it would a direct socket's.
func (e *edgeSession) tooSlow() {
	if e.finish(edgeEnd{code: websocket.StatusGoingAway, reason: "too slow", tellHost: true, cut: true}) {
		e.lk.c.srv.log.Warn("signal: outbound queue full, closing slow relayed socket",
			"user", e.user, "room", e.room, "queued", e.out.len())
		e.lk.c.srv.caps.refused(outQueueLimit(e.out.bound()))
	}
}

// serve runs the client's socket until either side ends it, then ends the
// other with the same close code.
func (e *edgeSession) serve(down *websocket.Conn, st *relayState, internal bool) {
	c := e.lk.c
	ctx := e.ctx
	// Reads and writes on down never use ctx: coder/websocket drops a
	// connection whose operation's context ends, and the client must get
	// the close code below, not a dropped TCP connection — unless it is
	// cut (e.drop), when dropping it is the point.
	write := func(typ websocket.MessageType, data []byte) error {
		wctx, cancel := context.WithTimeout(e.drop, c.srv.cfg.PingTimeout)
		defer cancel()
		return down.Write(wctx, typ, data)
	}
	reply := func(frame []byte) { _ = write(websocket.MessageText, frame) }
	readerDone := make(chan struct{})
	go func() { // client → host; ends when down closes
		defer close(readerDone)
		for {
			typ, frame, err := down.Read(context.Background())
			if err != nil {
				end := edgeEnd{code: websocket.StatusGoingAway, reason: "client gone", tellHost: true}
				var ce websocket.CloseError
				if errors.As(err, &ce) {
					end.code, end.reason = ce.Code, ce.Reason
				}
				e.finish(end)
				return
			}
			// A relayed viewer's subscription is served by this node's
			// cascade of the room (cascade.go) — not the cascade's own
			// socket to the host (linkClient), which feeds it.
			if typ == websocket.MessageText && !internal && c.interceptUp(ctx, st, reply, frame) {
				continue
			}
			if typ == websocket.MessageText {
				err = e.st.Send(string(frame), nil)
			} else {
				err = e.st.Send("", frame)
			}
			if err != nil {
				e.finish(edgeEnd{code: websocket.StatusGoingAway, reason: "relay backlog", tellHost: true, tellClient: true})
			}
		}
	}()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // host → client
		defer wg.Done()
		for ctx.Err() == nil {
			f, ok := e.out.pop()
			if !ok {
				select {
				case <-ctx.Done():
				case <-e.out.ready:
				}
				continue
			}
			if f.Kind == frameClose {
				var p closePayload
				_ = json.Unmarshal(f.Payload, &p)
				e.finish(edgeEnd{code: websocket.StatusCode(p.Code), reason: p.Reason, tellClient: true})
				return
			}
			var m nodelink.Msg
			if json.Unmarshal(f.Payload, &m) != nil {
				continue // Receive read it already
			}
			typ, data := websocket.MessageText, []byte(m.Text)
			if m.Bin != nil {
				typ, data = websocket.MessageBinary, m.Bin
			}
			if err := write(typ, data); err != nil {
				e.finish(edgeEnd{code: websocket.StatusGoingAway, reason: "client gone", tellHost: true})
				return
			}
		}
	}()
	go func() { // the client is pinged like a direct one
		defer wg.Done()
		t := time.NewTicker(c.srv.cfg.PingInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			pctx, cancel := context.WithTimeout(e.drop, c.srv.cfg.PingTimeout)
			err := down.Ping(pctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				e.finish(edgeEnd{code: websocket.StatusGoingAway, reason: "client silent", tellHost: true})
				return
			}
		}
	}()
	wg.Wait()
	// Only the node's shutdown (links.close) ends the loops without a cause.
	e.finish(edgeEnd{code: websocket.StatusGoingAway, reason: "server shutdown", tellHost: true, tellClient: true})
	end := e.end
	if end.tellHost {
		_ = e.st.Control(frameClose, closePayload{Code: int(closeCode(end.code)), Reason: end.reason})
	}
	if end.tellClient {
		_ = down.Close(closeCode(end.code), end.reason)
	}
	_ = down.CloseNow()
	<-readerDone
}

// closeCode is code unless it may not be sent in a close frame (1005,
// 1006, 1015: they say a close frame was missing or broken).
func closeCode(code websocket.StatusCode) websocket.StatusCode {
	switch code {
	case websocket.StatusNoStatusRcvd, websocket.StatusAbnormalClosure, websocket.StatusTLSHandshake, 0:
		return websocket.StatusGoingAway
	}
	return code
}

// startResume resumes the session over a new link, once at a time.
func (e *edgeSession) startResume() {
	if e.ctx.Err() != nil || !e.resuming.CompareAndSwap(false, true) {
		return
	}
	e.lk.wg.Add(1)
	go func() {
		defer e.lk.wg.Done()
		for {
			if !e.resumeOnce() {
				if e.ctx.Err() == nil {
					e.lk.resumes.WithLabelValues("lost").Inc()
					e.finish(edgeEnd{code: websocket.StatusGoingAway, reason: "the room's node is unreachable", tellClient: true})
				}
				return
			}
			e.lk.resumes.WithLabelValues("resumed").Inc()
			e.resuming.Store(false)
			// The new link may have dropped while this goroutine still
			// counted as resuming, when the link's watcher left the
			// session to it: look once more.
			if l := e.st.Link(); l != nil && l.Err() == nil || !e.resuming.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}

// stillHosted says whether the session's host may still host its room, as
// far as Redis knows (a Redis that cannot be asked is no news).
func (e *edgeSession) stillHosted(ctx context.Context) bool {
	rt, err := e.lk.c.node.Route(ctx, e.room)
	switch {
	case errors.Is(err, cluster.ErrNoHolder):
		return false
	case err != nil || rt.Stale:
		return true
	}
	return !rt.Local && rt.Node.ID == e.host.ID
}

// resumeOnce dials the host again until it takes the session back, or the
// resume window passes, or Redis says the room is no longer the host's (it
// died and its lease lapsed, or another node took the room): the client
// then reconnects at once, to the room's next host, instead of waiting
// out the window.
func (e *edgeSession) resumeOnce() bool {
	ctx, cancel := context.WithTimeout(e.ctx, e.lk.resume)
	defer cancel()
	backoff := 50 * time.Millisecond
	for {
		l, err := e.lk.get(ctx, e.host)
		if err == nil {
			err = l.Send(nodelink.Frame{Session: e.st.ID(), Kind: frameResume, Payload: e.st.ResumePayload()})
		}
		for err == nil {
			select {
			case got := <-e.resumed:
				if got == l {
					return true
				}
				// A late answer to an earlier attempt: wait for this one.
			case <-l.Done():
				err = l.Err()
			case <-ctx.Done():
				return false
			}
		}
		if !e.stillHosted(ctx) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

func (r *relays) add(c *websocket.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conns == nil {
		return false // closed
	}
	r.conns[c] = struct{}{}
	r.active.Inc()
	return true
}

func (r *relays) remove(c *websocket.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.conns[c]; ok {
		delete(r.conns, c)
		r.active.Dec()
	}
}

// closeAll ends every relayed socket (the client reconnects, to another
// node) and refuses new ones.
func (r *relays) closeAll() {
	r.mu.Lock()
	conns := r.conns
	r.conns = nil
	r.mu.Unlock()
	var wg sync.WaitGroup
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.Close(websocket.StatusGoingAway, "server shutdown")
		}()
	}
	wg.Wait()
}

// redirectMedia answers a WHIP or WHEP offer for a room another node hosts
// with 307 to the same resource on that node (RFC 9725 lets a WHIP/WHEP
// endpoint redirect; the client re-sends its offer there), so the media
// terminates on the host like a relayed socket's does. Session resources
// (PATCH, DELETE) then live at the Location the host answers.
func (c *clusterEdge) redirectMedia(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
			if len(parts) == 2 && (parts[0] == "whip" || parts[0] == "whep") && token.ValidID(parts[1]) {
				if base, ok := c.hostBase(r, parts[1]); ok {
					u := *r.URL
					w.Header().Set("Location", base+u.RequestURI())
					w.WriteHeader(http.StatusTemporaryRedirect)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// hostBase is the public base URL of the node hosting room, when another
// node hosts it.
func (c *clusterEdge) hostBase(r *http.Request, room string) (string, bool) {
	if r.Header.Get(relayedHeader) != "" {
		return "", false
	}
	rt, err := c.node.Route(r.Context(), room)
	if err != nil || rt.Local || rt.Node.HTTPAddr == "" {
		return "", false
	}
	return strings.TrimSuffix(rt.Node.HTTPAddr, "/"), true
}
