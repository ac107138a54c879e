package signal

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatsfu/seatsfu/signal/token"
)

// The signalling relay (PROTOCOL.md §12): a client whose WebSocket reaches
// a node that does not host its room is relayed to the hosting node, so
// any node accepts any client for any room.
//
// What is built is a relay per client socket: the edge verifies the
// token, dials the host's /v1/rtc with the client's own token (the nodes
// share the secret), and copies frames both ways, close codes included.
// The host serves the relayed socket exactly as a direct one — the seat
// controller, rate limits, token expiry — so every answer and notification
// is the host's. rtc.publish and rtc.subscribe are relayed too: their SDP
// answers, and so the media, terminate on the host.
//
// Not built: carrying all of a node's relayed sockets on the one
// node-to-node link per pair of internal/nodelink (with a room's
// notifications crossing it once and fanned out at the edge). Until then
// each relayed client costs the pair of nodes one WebSocket of its own.

// relayedHeader marks a socket the edge relays: the host serves it even if
// its own route is stale, so two nodes never relay a client in a loop.
const relayedHeader = "X-Seatsfu-Relayed"

// relayReadLimit bounds one frame from the host: a snapshot of a room with
// many pending requests is the largest.
const relayReadLimit = 4 << 20

// relays are the edge's relayed sockets, closed on Shutdown.
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

// relayTarget is the host's /v1/rtc URL when another node hosts the room
// and says where clients reach it.
func (c *clusterEdge) relayTarget(r *http.Request, room string) (string, bool) {
	u, ok := c.hostBase(r, room)
	if !ok {
		return "", false
	}
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

// relay serves r by relaying it to the room's host, and reports whether it
// did. It does not when this node may serve the room itself (it hosts it,
// nobody does, or the host is unreachable: the client then gets this
// node's own answer, room_not_found while a takeover is pending).
func (c *clusterEdge) relay(w http.ResponseWriter, r *http.Request, raw string, id token.Identity) bool {
	target, ok := c.relayTarget(r, id.Room)
	if !ok {
		return false
	}
	dctx, cancel := context.WithTimeout(r.Context(), c.srv.cfg.Limits.JoinTimeout)
	defer cancel()
	h := http.Header{}
	h.Set("Authorization", "Bearer "+raw)
	h.Set(relayedHeader, c.node.ID())
	up, _, err := websocket.Dial(dctx, target, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		c.srv.log.Debug("cluster: relay dial", "room", id.Room, "target", target, "err", err)
		c.node.Forget(id.Room)
		return false
	}
	up.SetReadLimit(relayReadLimit)
	down, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true}) // as serveRTC
	if err != nil {
		_ = up.Close(websocket.StatusGoingAway, "client upgrade failed")
		return true
	}
	down.SetReadLimit(maxFrame)
	if !c.rel.add(down) {
		_ = up.Close(websocket.StatusGoingAway, "server shutdown")
		_ = down.Close(websocket.StatusGoingAway, "server shutdown")
		return true
	}
	defer c.rel.remove(down)
	st := &relayState{user: id.UserID, room: id.Room, target: target} // cascade.go
	defer st.end(c.cas)
	c.pipe(down, up, st)
	return true
}

// pipe copies frames both ways until either side ends, then ends the
// other with the same close code and reason. The client is pinged like a
// direct one, so a client that vanished is noticed here (the host pings
// the edge, which always answers).
func (c *clusterEdge) pipe(down, up *websocket.Conn, st *relayState) {
	ctx, cancel := context.WithCancel(c.srv.ctx)
	defer cancel()
	var wg sync.WaitGroup
	var once sync.Once
	finish := func(to *websocket.Conn, err error) {
		once.Do(func() {
			code, reason := websocket.StatusGoingAway, "relay ended"
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				code, reason = ce.Code, ce.Reason
			}
			cancel()
			_ = to.Close(code, reason)
		})
	}
	reply := func(frame []byte) {
		wctx, wcancel := context.WithTimeout(ctx, c.srv.cfg.PingTimeout)
		defer wcancel()
		_ = down.Write(wctx, websocket.MessageText, frame)
	}
	copyFrames := func(from, to *websocket.Conn) {
		defer wg.Done()
		for {
			typ, frame, err := from.Read(ctx)
			if err != nil {
				finish(to, err)
				return
			}
			// A relayed viewer's subscription is served by this node's
			// cascade of the room (cascade.go).
			if from == down && typ == websocket.MessageText && c.interceptUp(ctx, st, reply, frame) {
				continue
			}
			wctx, wcancel := context.WithTimeout(ctx, c.srv.cfg.PingTimeout)
			err = to.Write(wctx, typ, frame)
			wcancel()
			if err != nil {
				finish(from, err)
				return
			}
		}
	}
	wg.Add(3)
	go copyFrames(down, up)
	go copyFrames(up, down)
	go func() {
		defer wg.Done()
		t := time.NewTicker(c.srv.cfg.PingInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			pctx, pcancel := context.WithTimeout(ctx, c.srv.cfg.PingTimeout)
			err := down.Ping(pctx)
			pcancel()
			if err != nil && ctx.Err() == nil {
				finish(up, err)
				_ = down.CloseNow()
				return
			}
		}
	}()
	wg.Wait()
	_ = down.CloseNow()
	_ = up.CloseNow()
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
