package signal

import (
	"net/http"

	"github.com/coder/websocket"

	"github.com/seatsfu/seatsfu/signal/token"
)

// Relaying is decided per room.join, not only at the socket's upgrade
// (PROTOCOL.md §12). A socket that connected while nobody hosted its room
// is served here; when it then joins and another node hosts the room (the
// owner opened it there meanwhile), the socket is handed to that node over
// the pair's link, as if it had been relayed from the start, with the
// room.join re-sent there as its first message. The client sees the host's
// answer to its join and nothing else changes for it.
//
// Why this is sound: only a socket that speaks for nobody here is handed
// over — not joined, no publisher or subscriber connection, so no seat,
// member, media or notification of this node is tied to it. Its frames
// are handled one at a time on the reader, so nothing is read after the
// join: every later frame stays in the socket for the relay to read. What
// this node had queued for it (earlier answers) is written first: the
// writer stops at a marker behind them. The host verifies the token again
// (the newest one, should session.refresh have replaced it) and runs its
// own join deadline, expiry and rate limits. A socket that came over a
// link (or this node's own cascade socket) is never handed over, so two
// nodes cannot pass a socket back and forth.
//
// If the host cannot be reached the join is answered here as before
// (room_not_found while a takeover is pending).

// handover is a session's hand-over to its room's host.
type handover struct {
	edge    *edgeSession
	frame   []byte        // the room.join, re-sent to the host
	drained chan struct{} // closed by the writer at the marker
	token   string        // the socket's newest token
	never   bool          // the socket came over a link or from this node
}

// mayHandOver records what a hand-over needs: the token the socket
// presented and whether it may be handed over at all.
func (s *session) mayHandOver(r *http.Request, raw string) {
	s.ho.token = raw
	s.ho.never = r.Header.Get(relayedHeader) != "" || viaMemory(r)
	s.ho.drained = make(chan struct{})
}

// handOver hands the socket to its room's host when another node hosts the
// room, and reports whether it did; frame is the room.join being handled.
// Called on the reader.
func (s *session) handOver(frame []byte) bool {
	c := s.srv.cl
	if c == nil || s.ho.never || s.ho.drained == nil || s.joined || s.pub != nil || s.sub != nil {
		return false
	}
	host, ok := c.hostElsewhere(s.ctx, s.roomID)
	if !ok {
		return false
	}
	e := c.openEdge(s.ctx, s.roomID, s.user, host, s.ho.token)
	if e == nil {
		return false
	}
	if !s.out.push(outFrame{handover: true}) {
		// the queue is full: the socket is being dropped anyway
		s.ho.abandon(e)
		return false
	}
	s.ho.edge, s.ho.frame = e, frame
	return true
}

// abandon closes e at the host: the hand-over did not happen.
func (ho *handover) abandon(e *edgeSession) {
	_ = e.st.Control(frameClose, closePayload{Code: int(websocket.StatusGoingAway), Reason: "client gone"})
	e.lk.dropEdge(e)
}

// handedOver ends the session's own use of the socket after the reader
// stopped for a hand-over, and reports whether the relay may take it: the
// writer wrote everything queued before the marker and stopped. Should the
// session end first (a full queue, the token's grace over, shutdown), the
// hand-over is abandoned and the session closes as usual. Nothing is
// cancelled here: cancelling a write or a ping of the socket's would close
// it (coder/websocket), so the pinger finishes its round on its own — its
// pong is read by the relay — and is waited for in relayHandedOver.
func (s *session) handedOver() bool {
	if s.ho.edge == nil {
		return false
	}
	s.ping.stop() // the relay pings the client from now on
	select {
	case <-s.ho.drained:
	case <-s.ctx.Done():
	}
	if s.ctx.Err() != nil {
		s.ho.abandon(s.ho.edge)
		s.ho.edge = nil
		return false
	}
	return true
}

// relayHandedOver serves the socket as a relayed one once its session here
// has ended (serveRTC calls it last); nothing without a hand-over.
func (s *session) relayHandedOver() {
	e := s.ho.edge
	if e == nil {
		return
	}
	c := s.srv.cl
	defer func() {
		c.links.dropEdge(e)
		s.stopLoops()
	}()
	if err := e.st.Send(string(s.ho.frame), nil); err != nil {
		s.ho.abandon(e)
		_ = s.conn.Close(websocket.StatusGoingAway, "relay backlog")
		return
	}
	c.serveRelayed(e, s.conn, token.Identity{Room: s.roomID, UserID: s.user.UserID}, false)
}
