package signal

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal/proto"
)

const (
	// maxFrame is the largest frame a client may send (PROTOCOL.md §3);
	// coder/websocket closes with 1009 beyond it.
	maxFrame = 64 << 10
	// outQueue bounds what may wait for a slow socket. A socket that lets
	// this many frames pile up is closed: the room never waits for it.
	// A host's socket may hold a room's worth more (hostQueueLimit).
	outQueue = 256
	// hostQueueUncapped is hostQueueLimit's room's worth when --max-members
	// sets no cap: the contract's default cap.
	hostQueueUncapped = 10000
	// writeTimeout bounds one frame's write; a socket that cannot take a
	// frame in this time is as good as gone.
	writeTimeout = 10 * time.Second
)

// outFrame is one entry of a session's outbound queue: a frame to write, or
// the instruction to close the socket once everything before it is written.
type outFrame struct {
	data   []byte
	close  bool
	code   websocket.StatusCode
	reason string
	after  saveMark // on a cluster node: the room state Redis must hold first (cluster_save.go)
	// handover: everything before it is written; the writer stops and
	// leaves the socket to the relay (handover.go).
	handover bool
}

// session is one signalling socket. Its reader loop runs on the session's
// own goroutine (upgrade.go) and handles requests one at a time, in order;
// a writer goroutine drains the bounded outbound queue while frames wait
// (outqueue.go); a pinger on a timer (pinger.go) watches for silence. All
// three end when ctx is cancelled, and the reader waits for the other two
// before it returns (stopLoops).
type session struct {
	srv    *Server
	conn   *websocket.Conn
	user   seat.User
	roomID string    // the token's room: the only room this socket may enter
	access rtcAccess // for the snapshot's rtc.iceServers (rtcnet.go)
	log    *slog.Logger
	out    *frameQueue // bounded at outQueue, a host's higher (hub.go); owns the writer (outqueue.go)
	slow   atomic.Bool // its queue was found full: it is closing
	ctx    context.Context
	cancel context.CancelFunc

	// heard is the unix-nano time of the last frame or pong from the peer.
	heard atomic.Int64

	requests *rate.Limiter // every frame, shared by the user's sockets (life.budget)
	messages *rate.Limiter // room.sendMessage, likewise
	life     lifetime      // deadlines and rate budget (expiry.go)

	loops sync.WaitGroup // the pinger (the writer is out's)
	ping  *pinger

	// A room.join handed to the room's host (handover.go): its channels
	// are made before the loops start, the rest is the reader's.
	ho handover

	// Owned by the reader goroutine.
	joined bool
	room   *sfu.Room
	hub    *roomHub
	pub    *sfu.Peer
	sub    *sfu.Peer
}

func newSession(srv *Server, conn *websocket.Conn, user seat.User, roomID string) *session {
	ctx, cancel := context.WithCancel(srv.ctx)
	budget := srv.caps.budgets.acquire(roomID, user.UserID, srv.now()) // released by endLife
	s := &session{
		srv:      srv,
		conn:     conn,
		user:     user,
		roomID:   roomID,
		log:      srv.log.With("user", user.UserID),
		ctx:      ctx,
		cancel:   cancel,
		requests: budget.requests,
		messages: budget.messages,
	}
	s.out = newFrameQueue(outQueue, s.writeFrame)
	s.life.budget = budget
	s.heard.Store(time.Now().UnixNano())
	return s
}

// run serves the socket until it closes, then releases everything the
// session owns.
func (s *session) run() {
	s.ping = startPinger(s) // pinger.go

	s.readLoop()
	if s.handedOver() {
		return // the socket is the relay's now (handover.go)
	}

	s.stopLoops()
	_ = s.conn.CloseNow()
	s.closePeers()
	s.leaveOnDrop()
}

func (s *session) readLoop() {
	for {
		typ, frame, err := s.conn.Read(s.ctx)
		if err != nil {
			if websocket.CloseStatus(err) == -1 && !errors.Is(err, context.Canceled) {
				s.log.Debug("signal: socket read ended", "err", err)
			}
			return
		}
		s.heard.Store(time.Now().UnixNano())
		s.handleApart(typ, frame)
		if s.ho.edge != nil {
			return // the rest of the socket's frames go to the room's host
		}
	}
}

// handleApart runs handle on a goroutine of its own and waits for it, so
// requests are still handled one at a time, in order — which the contract
// promises (PROTOCOL.md §3): a client may send rtc.setQuality right behind
// the rtc.subscribe it depends on. A request may need a
// deep stack (an SDP offer parsed and answered, a join's snapshot encoded),
// and a goroutine's stack shrinks only by half per GC cycle: run on the
// reader, which then waits hours for its next frame, it left a viewer's
// socket holding 16–32 KiB of stack (issue 16). A socket sends few
// requests; the goroutine is the cheaper price. A panic, which no input
// may cause, is logged and ends the session rather than the process.
func (s *session) handleApart(typ websocket.MessageType, frame []byte) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("signal: request panicked, closing the socket", "panic", p, "stack", string(debug.Stack()))
				s.cancel()
			}
		}()
		s.handle(typ, frame)
	}()
	<-done
}

// handle answers one frame. Nothing here may panic on any input, and no
// refused frame changes any state.
func (s *session) handle(typ websocket.MessageType, frame []byte) {
	req, ferr := decodeFrame(frame)
	if typ != websocket.MessageText {
		// The id still matters to the client when it could be read.
		req, ferr = request{ID: req.ID}, withMessage(errInvalidRequest, "frames must be text")
	}
	if !s.requests.AllowN(s.srv.now(), 1) {
		s.srv.caps.refused(limitRequestRate)
		s.srv.metrics.signalRequests.WithLabelValues(methodLabel(req.Method), errRateLimited.Reason).Inc()
		s.send(encodeError(req.ID, errRateLimited))
		return
	}
	if ferr != nil {
		s.srv.metrics.signalRequests.WithLabelValues("invalid", ferr.Reason).Inc()
		s.send(encodeError(req.ID, ferr))
		return
	}
	label := methodLabel(req.Method)
	if req.Method == proto.MethodRoomJoin && s.handOver(frame) {
		return // answered, and counted, by the room's host (handover.go)
	}
	result, err := s.call(req)
	if err != nil {
		se := asSeatError(err)
		if se == errInternal {
			s.log.Error("signal: method failed", "method", req.Method, "err", err)
		}
		s.srv.metrics.signalRequests.WithLabelValues(label, se.Reason).Inc()
		s.srv.caps.noteError(se.Reason)
		s.send(encodeError(req.ID, se))
		return
	}
	s.srv.metrics.signalRequests.WithLabelValues(label, "ok").Inc()
	if _, done := result.(answered); done {
		return
	}
	b, merr := encodeResult(req.ID, result)
	if merr != nil {
		s.log.Error("signal: encode result", "method", req.Method, "err", merr)
		s.send(encodeError(req.ID, errInternal))
		return
	}
	s.send(b)
}

// call finds, checks and runs a method.
func (s *session) call(req request) (any, error) {
	m, ok := methods[req.Method]
	if !ok {
		return nil, withMessage(errNoMethod, "unknown method "+truncate(req.Method, 64))
	}
	if !unjoinedMethod(req.Method) && (!s.joined || !s.hub.speaksFor(s)) {
		// Never joined, left, or no longer the user's socket (replaced,
		// kicked out, room ended) while its close is on the way.
		return nil, seat.ErrNotJoined
	}
	p, perr := m.decode(req.Params)
	if perr != nil {
		return nil, perr
	}
	return m.run(s, req.ID, p)
}

// answered is returned by a method that already queued its own response
// (room.join queues its snapshot under the room's lock, so it precedes every
// notification that follows it).
type answered struct{}

// send queues a frame without ever blocking. A full queue means the peer is
// not reading: the socket is closed rather than letting it hold up the room.
func (s *session) send(frame []byte) {
	if !s.out.push(outFrame{data: frame, after: s.srv.saveMark(s.roomID)}) {
		s.tooSlow()
	}
}

// tooSlow closes a socket whose queue is full; it says so once, however many
// frames more find it full before the socket is gone.
func (s *session) tooSlow() {
	if s.slow.CompareAndSwap(false, true) {
		s.log.Warn("signal: outbound queue full, closing slow socket", "queued", s.out.len())
		s.srv.caps.refused(outQueueLimit(s.out.bound()))
	}
	s.cancel()
}

// hostQueueLimit is how many frames a host's socket may have waiting: a
// host hears room.memberJoined and room.memberLeft for every member (§3),
// so a flash crowd — a whole room joining in a second — must fit on top of
// the ordinary bound. With 256, a burst of 806 viewers closed the owner's
// socket as slow, and with it the owner's media, for every viewer
// (bench/README.md, session 6's overload run 2). The queue grows only as
// deep as it has been (outqueue.go), so the bound costs nothing until
// a host falls behind.
func hostQueueLimit(maxMembers int) int {
	return outQueue + cmp.Or(maxMembers, hostQueueUncapped)
}

// outQueueLimit names the limit a full queue of that bound hit:
// host_out_queue for a host's socket (its bound is the larger), out_queue
// for any other.
func outQueueLimit(bound int) string {
	if bound > outQueue {
		return limitHostOutQueue
	}
	return limitOutQueue
}

// queueLimitFor is the bound of the socket of a member with that role.
func (srv *Server) queueLimitFor(r seat.Role) int {
	if r.IsHost() {
		return hostQueueLimit(srv.cfg.MaxMembers)
	}
	return outQueue
}

// closeAfterQueued closes the socket once every frame queued before this
// call has been written (room.ended, room.kickedOut, session.replaced).
func (s *session) closeAfterQueued(code websocket.StatusCode, reason string) {
	if !s.out.push(outFrame{close: true, code: code, reason: reason, after: s.srv.saveMark(s.roomID)}) {
		s.tooSlow()
	}
}

func (s *session) notify(method string, params any) {
	b, err := encodeNotification(method, params)
	if err != nil {
		s.log.Error("signal: encode notification", "method", method, "err", err)
		return
	}
	s.send(b)
}

// writeFrame writes one queued frame, on the queue's writer goroutine;
// false ends the writing for good.
func (s *session) writeFrame(f outFrame) bool {
	if s.ctx.Err() != nil {
		return false
	}
	f.after.wait(s.ctx)
	if f.handover {
		close(s.ho.drained)
		return false
	}
	if f.close {
		// Close performs the closing handshake; the reader sees the
		// peer's close frame and ends the session.
		_ = s.conn.Close(f.code, f.reason)
		s.cancel()
		return false
	}
	ctx, cancel := context.WithTimeout(s.ctx, writeTimeout)
	err := s.conn.Write(ctx, websocket.MessageText, f.data)
	cancel()
	if err != nil {
		s.cancel()
		return false
	}
	return true
}

// stopLoops ends the session's writer and pinger and waits for both: what
// is still queued is not written.
func (s *session) stopLoops() {
	s.cancel()
	s.out.stop()
	s.loops.Wait()
}

func (s *session) pongReceived(context.Context, []byte) { s.heard.Store(time.Now().UnixNano()) }

func (s *session) closePeers() {
	if s.pub != nil {
		_ = s.pub.Close()
		s.pub = nil
	}
	if s.sub != nil {
		_ = s.sub.Close()
		s.sub = nil
	}
}

// leaveOnDrop tells the room this user's socket is gone — unless the socket
// no longer speaks for the user (replaced by a newer one, kicked out, the
// room ended, or it left): the check and the Disconnect happen under the
// room's lock, so a concurrent resume cannot slip between them.
func (s *session) leaveOnDrop() {
	if !s.joined {
		return
	}
	s.joined = false
	h := s.hub
	err := s.room.Do(func(r *seat.Room) ([]seat.Delivery, error) {
		if !h.detach(s) {
			return nil, nil
		}
		if h.present(s.user.UserID) {
			return nil, nil // the owner's WHIP session keeps it present (presence.go)
		}
		return r.Disconnect(s.user.UserID)
	})
	if err != nil {
		s.log.Debug("signal: disconnect", "err", err)
	}
	h.markStats()
}

// respond queues a method's result directly (see answered).
func (s *session) respond(id json.RawMessage, result any) {
	b, err := encodeResult(id, result)
	if err != nil {
		s.send(encodeError(id, errInternal))
		return
	}
	s.send(b)
}
