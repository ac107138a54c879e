package signal

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/token"
)

// The hosting node's side of the media cascade (PROTOCOL.md §12): another
// node's one subscription to a room hosted here arrives on GET
// /v1/cascade, a WebSocket speaking the §3 envelope with three methods —
// room.join (answered with the room's shape, nothing else: the cascade is
// no member), rtc.subscribe and rtc.setQuality. It is a subscriber of the
// room's media like a WHEP player: gated by the room like every viewer,
// counted by rtc.publisherLayers, but absent from the member list, the
// member count, member.* notifications and webhooks, which are about
// people.
//
// Its token is one the edge mints with the cluster's shared secret for the
// member "node.<id>" (cascadeUserPrefix): only a holder of the secret can
// open a cascade.

// cascadePath is the hosting node's cascade endpoint.
const cascadePath = "/v1/cascade"

// cascadeLinks are the cascade sockets this node serves as a host, closed
// on shutdown.
type cascadeLinks struct {
	mu     sync.Mutex
	conns  map[*websocket.Conn]struct{} // nil once closed
	served prometheus.Gauge             // cascades{role="host"}
}

func (l *cascadeLinks) add(c *websocket.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conns == nil {
		return false
	}
	l.conns[c] = struct{}{}
	l.served.Inc()
	return true
}

func (l *cascadeLinks) remove(c *websocket.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.conns[c]; ok {
		delete(l.conns, c)
		l.served.Dec()
	}
}

func (l *cascadeLinks) closeAll() {
	l.mu.Lock()
	conns := l.conns
	l.conns = nil
	l.served.Sub(float64(len(conns)))
	l.mu.Unlock()
	for c := range conns {
		_ = c.Close(websocket.StatusGoingAway, "server shutdown")
	}
}

// serveCascade is GET /v1/cascade: one edge node's subscription to a room
// this node hosts.
func (s *Server) serveCascade(w http.ResponseWriter, r *http.Request) {
	if s.cl == nil {
		http.NotFound(w, r)
		return
	}
	raw := token.FromRequest(r)
	id, err := token.Verify(s.cfg.Secret, raw)
	if err != nil || !strings.HasPrefix(id.UserID, cascadeUserPrefix) {
		http.Error(w, "a cascade needs a node's token", http.StatusUnauthorized)
		return
	}
	room := s.cfg.SFU.Room(id.Room)
	if room == nil || s.cl.node.Hosted(id.Room) == nil {
		http.Error(w, "room not hosted here", http.StatusNotFound)
		return
	}
	if !s.enter(w) {
		return
	}
	defer s.wg.Done()
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	conn.SetReadLimit(maxFrame)
	if !s.cl.cas.links.add(conn) {
		_ = conn.Close(websocket.StatusGoingAway, "server shutdown")
		return
	}
	defer s.cl.cas.links.remove(conn)
	h := &cascadeHost{srv: s, conn: conn, room: room, user: id.UserID}
	h.serve()
}

// cascadeHost serves one cascade socket.
type cascadeHost struct {
	srv  *Server
	conn *websocket.Conn
	room *sfu.Room
	user string
	sub  *sfu.Peer // the edge's subscription; only serve's goroutine touches it
}

func (h *cascadeHost) serve() {
	ctx, cancel := context.WithCancel(h.srv.ctx)
	var ended sync.WaitGroup // the watcher of the subscription's end
	defer func() {
		cancel()
		if h.sub != nil {
			_ = h.sub.Close()
		}
		_ = h.conn.CloseNow()
		ended.Wait()
	}()
	for {
		typ, frame, err := h.conn.Read(ctx)
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			continue
		}
		req, bad := decodeFrame(frame)
		if bad != nil {
			h.write(ctx, encodeError(req.ID, bad))
			continue
		}
		out, serr := h.call(req)
		if serr != nil {
			h.write(ctx, encodeError(req.ID, serr))
			continue
		}
		b, err := encodeResult(req.ID, out)
		if err != nil {
			return
		}
		h.write(ctx, b)
		if req.Method == proto.MethodRTCSubscribe && h.sub != nil {
			// The room's end (or its move to another node) ends the
			// subscription: the edge hears it as the socket closing.
			sub := h.sub
			ended.Add(1)
			go func() {
				defer ended.Done()
				select {
				case <-sub.Done():
					_ = h.conn.Close(websocket.StatusGoingAway, "subscription ended")
				case <-ctx.Done():
				}
			}()
		}
	}
}

// call runs one method of the cascade link.
func (h *cascadeHost) call(req request) (any, *seat.Error) {
	switch req.Method {
	case proto.MethodRoomJoin:
		// The room's shape, for the edge's mirror; the cascade joins
		// nothing.
		return proto.Snapshot{Room: proto.RoomInfo{RoomID: h.room.ID(), MaxSeats: h.room.MaxSeats()},
			Self: proto.User{UserID: h.user}, Seats: []proto.Seat{}, Requests: []proto.Request{}}, nil
	case proto.MethodRTCSubscribe:
		var p proto.SDPParams
		if err := decodeParams(req.Params, &p); err != nil {
			return nil, err
		}
		if p.SDP == "" {
			return nil, invalidParams("sdp is required")
		}
		if h.sub != nil {
			return nil, invalidParams("this cascade already subscribed")
		}
		peer, answer, slots, err := h.room.Subscribe(h.user, p.SDP, 0)
		if err != nil {
			return nil, toSeatError(err)
		}
		h.sub = peer
		res := proto.SubscribeResult{SDP: answer, Slots: make([]proto.Slot, 0, len(slots))}
		for _, sl := range slots {
			res.Slots = append(res.Slots, proto.Slot(sl))
		}
		return res, nil
	case proto.MethodRTCSetQuality:
		var p proto.SetQualityParams
		if err := decodeParams(req.Params, &p); err != nil {
			return nil, err
		}
		if err := checkQuality(&p); err != nil {
			return nil, toSeatError(err)
		}
		if p.SeatIndex == nil {
			return nil, invalidParams("a cascade carries seat slots only")
		}
		if h.sub == nil {
			return nil, invalidParams("no subscribe connection: call rtc.subscribe first")
		}
		if err := h.sub.SetQuality(*p.SeatIndex, sfu.Quality(p.Quality)); err != nil {
			return nil, toSeatError(err)
		}
		return struct{}{}, nil
	}
	return nil, errNoMethod
}

func (h *cascadeHost) write(ctx context.Context, b []byte) {
	wctx, cancel := context.WithTimeout(ctx, h.srv.cfg.PingTimeout)
	defer cancel()
	if err := h.conn.Write(wctx, websocket.MessageText, b); err != nil && !errors.Is(err, context.Canceled) {
		_ = h.conn.CloseNow()
	}
}
