package signal

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/seat/cohost"
	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal/api"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// The score entry point's refusals (Server.AddBattleScore): the server
// API's own, so it answers them as §11 says (404, 409).
var (
	ErrBattleNotFound  = api.ErrBattleNotFound
	ErrRoomNotInBattle = api.ErrRoomNotInBattle
)

// cohostDesk owns the node's co-host controller (PROTOCOL.md §10): every
// request, connection and battle across this node's rooms, behind one lock,
// with one timer for the controller's deadlines.
//
// Lock order: desk.mu, then the SFU's co-host lock (sfu.Room.SetCohosts),
// then one room's lock at a time, then a roomHub's mu. Nothing that holds a
// room's lock or a hub's mu takes desk.mu: a room that ends reaches the
// desk from its stats goroutine, after its lock is released (roomGone), and
// a joiner reads the co-host state from its hub (cohostView), which the desk
// refreshes under the hub's mu as it notifies the room.
type cohostDesk struct {
	srv *Server
	m   cohostMetrics

	mu      sync.Mutex
	ctrl    *cohost.Controller
	live    map[string]*roomHub // the hub of each room the controller knows
	timer   *time.Timer
	timerAt time.Time
	closed  bool

	// Across nodes (cohost_cluster.go, cohost_mirror.go).
	remote        map[string]*remoteRoom // other nodes' rooms this controller knows
	homed         map[string]homedAt     // this node's rooms another node's controller holds
	pending       map[string]*cohostPush // remote rooms' shares being gathered
	pendingOrder  []string
	mirrors       map[string]*coMirror // cascades feeding co-host slots, by room
	mirrorRetry   bool
	mirrorFailing map[string]bool // set up failed, said once (cohost_mirror.go)
	seq           uint64          // numbers attaches
	ver           uint64          // numbers flushes (cohostPush.Ver)
	watching      bool            // send and watch started
	outbox        chan outMsg
	stop          chan struct{}
	wg            sync.WaitGroup // send, watch, mirror set-ups and releases
}

type cohostMetrics struct {
	connections prometheus.Gauge
	requests    *prometheus.CounterVec
	battles     *prometheus.CounterVec
	pushes      *prometheus.CounterVec // to other nodes' desks (cohost_cluster.go)
}

func newCohostDesk(s *Server) (*cohostDesk, error) {
	ctrl, err := cohost.New(cohost.Config{
		MaxRooms: s.cfg.MaxCohosts, Clock: s.cfg.Clock, IDPrefix: randomPrefix(),
	})
	if err != nil {
		return nil, fmt.Errorf("signal: %w", err)
	}
	m := cohostMetrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "seatsfu_cohost_connections",
			Help: "Co-host connections decided on this node (their rooms hosted here or on other nodes).",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seatsfu_cohost_requests_total",
			Help: "Co-host requests that ended, by outcome.",
		}, []string{"outcome"}),
		battles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seatsfu_battles_total",
			Help: "Battles that ended, by reason.",
		}, []string{"reason"}),
	}
	m.pushes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "seatsfu_cohost_pushes_total",
		Help: "Co-host outcomes sent to the nodes of the rooms they concern: sent, failed (the node did not answer) or dropped (the queue, --link-queue long, was full).",
	}, []string{"outcome"})
	for _, o := range []string{"sent", "failed", "dropped"} {
		m.pushes.WithLabelValues(o)
	}
	for _, c := range []prometheus.Collector{m.connections, m.requests, m.battles, m.pushes} {
		if err := s.cfg.Registry.Register(c); err != nil {
			return nil, fmt.Errorf("signal: metrics: %w", err)
		}
	}
	for _, o := range []cohost.Outcome{cohost.OutcomeAccepted, cohost.OutcomeRejected, cohost.OutcomeCancelled,
		cohost.OutcomeTimeout, cohost.OutcomeRoomEnded, cohost.OutcomeSuperseded} {
		m.requests.WithLabelValues(string(o))
	}
	for _, r := range []string{cohost.BattleTimeout, cohost.BattleStopped, cohost.BattleConnectionEnded} {
		m.battles.WithLabelValues(r)
	}
	return &cohostDesk{srv: s, m: m, ctrl: ctrl, live: map[string]*roomHub{},
		remote: map[string]*remoteRoom{}, homed: map[string]homedAt{}, pending: map[string]*cohostPush{},
		mirrors: map[string]*coMirror{}, mirrorFailing: map[string]bool{}, outbox: make(chan outMsg, outboxLen(s.cfg.Cluster)), stop: make(chan struct{})}, nil
}

// randomPrefix makes this run's request and battle ids unlike another
// run's: a backend holding an old battle id must not score a new battle.
func randomPrefix() string {
	var b [5]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on Linux
	return fmt.Sprintf("%x-", b)
}

// cohostOp is one controller operation on behalf of the actor room's owner.
type cohostOp func(c *cohost.Controller, actor string) (any, []cohost.Delivery, error)

// run performs call for the session's room. On success the media follow the
// new connections first, the rooms' snapshots next, then the answer is
// queued, then the notifications go out: once a call returns (or anyone is
// told of a change) the media and snapshots already match it, and a client
// learns its call's outcome before its consequences. A member joining in
// between may get a notification its snapshot already shows; never miss
// one. A room whose co-host state another node's controller holds has the
// call run there (cohost_cluster.go), in the same order.
func (d *cohostDesk) run(s *session, id []byte, call cohostCall) (any, error) {
	if s.user.Role != seat.RoleOwner {
		return nil, withMessage(seat.ErrPermission, "only a room's owner co-hosts")
	}
	op, target, err := cohostOpFor(call)
	if err != nil {
		return nil, err
	}
	if owner, ok := d.homeOf(s.roomID); ok {
		return d.forward(s, id, owner, call)
	}
	// A target on another node is attached here before the lock: that
	// is a round trip, and the desk's lock holds none.
	if err := d.reach(target, s.roomID); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, withMessage(seat.ErrRoomNotFound, "the server is shutting down")
	}
	if _, ok := d.homed[s.roomID]; ok {
		// Attached by another node since the check above: its
		// controller now decides.
		return nil, withMessage(errOverloaded, "the room's co-host state moved, try again")
	}
	res, ds, err := d.exec(s.roomID, target, op)
	if err != nil {
		return nil, err
	}
	d.applyMedia(ds)
	// Snapshots show the outcome from now on, the actor's room included
	// (a request sent is in its owner's).
	d.refreshViews(ds, s.roomID)
	s.respond(id, res)
	d.notify(ds)
	d.flush("")
	return answered{}, nil
}

// exec runs op for actor (a room of this node, or one attached from
// another: cohost_cluster.go) after resolving it and target. A refusal
// delivers only the ends of rooms found stale. Called with mu held.
func (d *cohostDesk) exec(actor, target string, op cohostOp) (any, []cohost.Delivery, error) {
	stale, err := d.resolve(actor)
	if err == nil && target != "" && target != actor {
		// The target must be live (room_not_found); a request to it ends
		// with room_ended when it goes.
		var more []cohost.Delivery
		more, err = d.resolve(target)
		stale = append(stale, more...)
	}
	if err != nil {
		d.deliver(stale)
		return nil, nil, err
	}
	res, ds, err := op(d.ctrl, actor)
	if err != nil {
		d.deliver(stale)
		return nil, nil, wireError(err)
	}
	return res, append(stale, ds...), nil
}

// resolve checks that roomID is live — a room of this node, or one another
// node hosts and has attached to this controller — and registers a local
// room's hub as the room the controller means by that id. A room the
// controller still knows under that id but which has ended (its roomGone
// has not run yet, or a new room took the id) is taken out first; the
// deliveries of that are returned. room_not_found when no live room has
// the id; cohost_busy when another node's controller holds its co-host
// state. Called with mu held.
func (d *cohostDesk) resolve(roomID string) ([]cohost.Delivery, error) {
	if d.remote[roomID] != nil {
		return nil, nil
	}
	d.srv.mu.Lock()
	h := d.srv.hubs[roomID]
	d.srv.mu.Unlock()
	var ds []cohost.Delivery
	if old := d.live[roomID]; old != nil && (old != h || old.ended()) {
		delete(d.live, roomID)
		ds = d.ctrl.RoomEnded(roomID)
	}
	if h == nil || h.room == nil || h.ended() {
		return ds, withMessage(seat.ErrRoomNotFound, "room "+truncate(roomID, 128)+" is not live")
	}
	if _, ok := d.homed[roomID]; ok {
		return ds, &seat.Error{Reason: cohost.ErrCohostBusy.Reason, Message: "room " + truncate(roomID, 128) + " co-hosts through another node"}
	}
	d.live[roomID] = h
	return ds, nil
}

// roomGone takes an ended room out of its requests and its connection
// (PROTOCOL.md §10: room_ended). Runs on the room's stats goroutine once
// the room is done, no lock held.
func (d *cohostDesk) roomGone(h *roomHub) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return // shutting down: every room ends, nobody is left to tell
	}
	if d.homeGone(h) { // cohost_cluster.go: its controller is elsewhere
		return
	}
	if d.live[h.id] != h {
		return
	}
	delete(d.live, h.id)
	d.deliver(d.ctrl.RoomEnded(h.id))
}

// close stops the timer and the desk's goroutines; the desk does nothing
// from then on.
func (d *cohostDesk) close() {
	d.mu.Lock()
	if !d.closed {
		close(d.stop)
	}
	d.closed = true
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	for r, m := range d.mirrors {
		delete(d.mirrors, r)
		if m.k != nil {
			d.releaseMirror(m.k)
		}
	}
	d.mu.Unlock()
	d.wg.Wait()
}

// deliver applies ds: media first, then the notifications, then sends
// other nodes their rooms' share. Called with mu held.
func (d *cohostDesk) deliver(ds []cohost.Delivery) {
	d.applyMedia(ds)
	d.notify(ds)
	d.flush("")
}

// applyMedia re-points the co-host slots of every room whose connection ds
// changed. Called with mu held.
func (d *cohostDesk) applyMedia(ds []cohost.Delivery) {
	changed := map[string]bool{}
	for _, dl := range ds {
		if _, ok := dl.Event.(cohost.Changed); ok {
			for _, r := range dl.Rooms {
				changed[r] = true
			}
		}
	}
	for r := range changed {
		if d.remote[r] != nil {
			d.touch(r).Media = true // its node re-points them (cohost_cluster.go)
			continue
		}
		d.pointSlots(r)
	}
}

// notify sends ds's notifications in order, then refreshes metrics and the
// timer. Called with mu held.
func (d *cohostDesk) notify(ds []cohost.Delivery) {
	for _, dl := range ds {
		d.emitWebhooks(dl)
		switch ev := dl.Event.(type) {
		case cohost.RequestEnded:
			d.m.requests.WithLabelValues(string(ev.Outcome)).Inc()
			continue
		case cohost.BattleEnded:
			d.m.battles.WithLabelValues(ev.Reason).Inc()
		}
		if dl.To == cohost.Internal {
			continue // ConnectionStarted/Ended: webhooks only
		}
		method, body := wireEvent(dl.Event)
		frame, err := encodeNotification(method, body)
		if err != nil {
			d.srv.log.Error("signal: encode notification", "method", method, "err", err)
			continue
		}
		switch dl.To {
		case cohost.Owner:
			if h := d.live[dl.Rooms[0]]; h != nil {
				h.sendToOwner(frame, d.view(dl.Rooms[0]))
			} else {
				d.queueNote(dl.Rooms[0], noteOwner, frame) // another node's room
			}
		case cohost.Everyone:
			for _, r := range dl.Rooms {
				if h := d.live[r]; h != nil {
					h.broadcastCohost(frame, d.view(r))
				} else {
					d.queueNote(r, noteEveryone, frame)
				}
			}
		}
	}
	d.refreshViews(ds)
	d.m.connections.Set(float64(d.ctrl.Connections()))
	d.arm()
}

// pointSlots points roomID's co-host slots at the other rooms' owners, in
// the connection's order (PROTOCOL.md §10, Media).
func (d *cohostDesk) pointSlots(roomID string) {
	h := d.live[roomID]
	if h == nil {
		return // ended: its media are closed already
	}
	var peers []*sfu.Room
	for _, m := range d.ctrl.Connection(roomID) {
		if m.RoomID == roomID {
			continue
		}
		if o := d.live[m.RoomID]; o != nil {
			peers = append(peers, o.room)
		} else if rr := d.remote[m.RoomID]; rr != nil {
			peers = append(peers, d.mirrorOf(m.RoomID)) // cohost_mirror.go
		} else {
			peers = append(peers, nil) // keeps the slot order; silent
		}
	}
	h.room.SetCohosts(peers)
}

// view is roomID's co-host state as a snapshot shows it (the requests only
// to the owner: joinedSnapshot).
func (d *cohostDesk) view(roomID string) proto.CohostSnapshot {
	v := proto.CohostSnapshot{Cohost: wireRooms(d.ctrl.Connection(roomID))}
	if b := d.ctrl.Battle(roomID); b != nil {
		v.Battle = &proto.BattleState{BattleID: b.BattleID, Rooms: b.Rooms, EndsAt: b.EndsAt.UnixMilli(), Scores: b.Scores}
	}
	received, sent := d.ctrl.RequestsOf(roomID)
	for _, q := range received {
		v.CohostRequests = append(v.CohostRequests, wireCohostRequest(q))
	}
	for _, q := range sent {
		v.CohostSent = append(v.CohostSent, proto.CohostSent{RequestID: q.RequestID, RoomID: q.ToRoom, ExpiresAt: q.ExpiresAt.UnixMilli()})
	}
	return v
}

// refreshViews brings the hubs of every room ds concerns up to date, those
// no notification reaches included (a requester after its own call). The
// views are the state after the whole operation, like those the
// notifications set. Called with mu held.
func (d *cohostDesk) refreshViews(ds []cohost.Delivery, also ...string) {
	rooms := map[string]bool{}
	for _, r := range also {
		rooms[r] = true
	}
	for _, dl := range ds {
		for _, r := range dl.Rooms {
			rooms[r] = true
		}
		if e, ok := dl.Event.(cohost.RequestEnded); ok {
			rooms[e.Request.FromRoom], rooms[e.Request.ToRoom] = true, true
		}
	}
	for r := range rooms {
		if h := d.live[r]; h != nil {
			h.setCohostView(d.view(r))
		} else if d.remote[r] != nil {
			d.touch(r) // its view goes with the push
		}
	}
}

// arm makes sure tick runs at the controller's next deadline. Called with
// mu held.
func (d *cohostDesk) arm() {
	if d.closed {
		return
	}
	at, ok := d.ctrl.NextDeadline()
	if !ok {
		if d.timer != nil {
			d.timer.Stop()
			d.timer = nil
		}
		return
	}
	if d.timer != nil && at.Equal(d.timerAt) {
		return
	}
	if d.timer != nil {
		d.timer.Stop()
	}
	d.timerAt = at
	d.timer = time.AfterFunc(max(at.Sub(d.srv.now()), 0), d.tick)
}

func (d *cohostDesk) tick() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	// This timer fired: arm anew even for the same instant (a fake clock
	// may not have reached it yet).
	d.timer, d.timerAt = nil, time.Time{}
	d.deliver(d.ctrl.Tick())
}

// AddBattleScore adds delta to roomID's score in a running battle: the
// server API's POST /v1/api/battles/{battleId}/score (PROTOCOL.md §10, §11)
// and the dev-mode demo endpoint. battle.scores follows, at most 5 a second.
// ErrBattleNotFound / ErrRoomNotInBattle when they do not match.
func (s *Server) AddBattleScore(battleID, roomID string, delta int64) error {
	err := s.cohost.addScoreHere(battleID, roomID, delta)
	if errors.Is(err, ErrBattleNotFound) && s.cl != nil {
		// Another node's controller may run it (cohost_cluster.go).
		return s.cohost.addScoreElsewhere(battleID, roomID, delta)
	}
	return err
}

// addScoreHere is AddBattleScore on this node's controller.
func (d *cohostDesk) addScoreHere(battleID, roomID string, delta int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("%w: the server is shutting down", ErrBattleNotFound)
	}
	ds, err := d.ctrl.AddScore(battleID, roomID, delta)
	switch {
	case errors.Is(err, cohost.ErrBattleNotFound):
		return fmt.Errorf("%w: %q", ErrBattleNotFound, battleID)
	case errors.Is(err, cohost.ErrRoomNotInBattle):
		return fmt.Errorf("%w: room %q, battle %q", ErrRoomNotInBattle, roomID, battleID)
	case err != nil:
		return err
	}
	d.deliver(ds)
	return nil
}

// serveAPI makes the desk the server API's battles and its source of
// RoomInfo.cohost (PROTOCOL.md §11), where the Config names none. Called by
// New, before the API is routed.
func (d *cohostDesk) serveAPI() {
	if d.srv.cfg.Battles == nil {
		d.srv.cfg.Battles = deskBattles{d.srv}
	}
	if d.srv.cfg.CohostRooms == nil {
		d.srv.cfg.CohostRooms = d.srv.cohostOthers
	}
}

// deskBattles is the server API's api.Battles: AddBattleScore.
type deskBattles struct{ s *Server }

func (b deskBattles) AddScore(battleID, roomID string, delta int64) error {
	return b.s.AddBattleScore(battleID, roomID, delta)
}

// cohostOthers is RoomInfo.cohost: the other rooms of roomID's connection,
// in order, or nil.
func (s *Server) cohostOthers(roomID string) []string {
	var out []string
	for _, id := range s.CohostOf(roomID) {
		if id != roomID {
			out = append(out, id)
		}
	}
	return out
}

// CohostOf is the ids of roomID's co-host connection in order, roomID
// included, or nil.
func (s *Server) CohostOf(roomID string) []string {
	d := s.cohost
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	if _, ok := d.homed[roomID]; ok {
		if h := d.hub(roomID); h != nil { // another node's controller holds it
			for _, r := range h.cohostView().Cohost {
				out = append(out, r.RoomID)
			}
		}
		return out
	}
	for _, m := range d.ctrl.Connection(roomID) {
		out = append(out, m.RoomID)
	}
	return out
}
