package signal

import (
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// statsPeriod is the least time between two room.stats of a room.
const statsPeriod = time.Second

// roomHub is a room's switchboard: which socket currently speaks for each
// member, the room's one record of presence (presence.go), and the
// sfu.Notifier that routes the room's deliveries to them.
//
// Lock order: the room's lock (sfu.Room.Do, held while Notify runs) before
// hub.mu. The hub never calls into the room while holding mu.
type roomHub struct {
	srv  *Server
	id   string
	room *sfu.Room // set once, right after OpenRoom

	owner seat.User // the room's owner, fixed when it opened the room

	mu      sync.Mutex
	members map[string]*session  // the live socket of each connected member
	held    map[string]int       // user → live WHIP sessions holding its presence
	cohost  proto.CohostSnapshot // the room's co-host state as last notified (cohost_hub.go)
	// roles are the roles the server API gave, by user id (webhooks.go);
	// they outrank the role in a session's token, for routing and for
	// participants{role}.
	roles map[string]seat.Role

	dirty chan struct{} // cap 1: the member count may have changed
}

func newHub(srv *Server, id string) *roomHub {
	return &roomHub{srv: srv, id: id, members: make(map[string]*session), held: make(map[string]int), dirty: make(chan struct{}, 1)}
}

// attach makes s the socket of its user. A previous socket of the same user
// is told session.replaced and closed; its drop will not disconnect the
// user, because it is no longer attached.
func (h *roomHub) attach(s *session) { h.attachThen(s, nil) }

// attachThen is attach, running first (when not nil) under the hub's lock
// just before s starts receiving the room's notifications.
func (h *roomHub) attachThen(s *session, first func()) {
	h.mu.Lock()
	if first != nil {
		first()
	}
	old := h.members[s.user.UserID]
	h.members[s.user.UserID] = s
	role := h.roleLocked(s)
	s.out.setLimit(h.srv.queueLimitFor(role)) // lock order: hub.mu, then the queue's
	h.mu.Unlock()
	if old == nil {
		h.srv.metrics.participants.WithLabelValues(string(role)).Inc()
		return
	}
	if old != s {
		old.notify(proto.NoteSessionReplaced, proto.Empty{})
		old.closeAfterQueued(websocket.StatusPolicyViolation, "session replaced")
	}
}

// detach removes s if it still speaks for its user, and reports whether it
// did.
func (h *roomHub) detach(s *session) bool {
	h.mu.Lock()
	cur := h.members[s.user.UserID]
	if cur == s {
		delete(h.members, s.user.UserID)
	}
	role := h.roleLocked(s)
	h.mu.Unlock()
	if cur == s {
		h.srv.metrics.participants.WithLabelValues(string(role)).Dec()
	}
	return cur == s
}

// speaksFor reports whether s is its user's current socket in this room.
func (h *roomHub) speaksFor(s *session) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.members[s.user.UserID] == s
}

// detachUser removes whichever socket speaks for userID and returns it.
func (h *roomHub) detachUser(userID string) *session {
	h.mu.Lock()
	s := h.members[userID]
	delete(h.members, userID)
	var role seat.Role
	if s != nil {
		role = h.roleLocked(s)
	}
	h.mu.Unlock()
	if s != nil {
		h.srv.metrics.participants.WithLabelValues(string(role)).Dec()
	}
	return s
}

func (h *roomHub) detachAll() []*session {
	h.mu.Lock()
	all := make([]*session, 0, len(h.members))
	roles := make([]seat.Role, 0, len(h.members))
	for id, s := range h.members {
		all = append(all, s)
		roles = append(roles, h.roleLocked(s))
		delete(h.members, id)
	}
	h.mu.Unlock()
	for _, r := range roles {
		h.srv.metrics.participants.WithLabelValues(string(r)).Dec()
	}
	return all
}

// Notify implements sfu.Notifier. It runs under the room's lock, so it only
// encodes and enqueues: each notification is encoded once and the same
// bytes go to every target's bounded queue.
func (h *roomHub) Notify(_ *sfu.Room, ds []seat.Delivery) {
	for _, d := range ds {
		h.deliver(d)
	}
}

func (h *roomHub) deliver(d seat.Delivery) {
	h.observe(d) // roles and webhooks (webhooks.go)
	switch ev := d.Event.(type) {
	case seat.RequestEnded:
		h.srv.metrics.seatRequests.WithLabelValues(string(ev.Request.Kind), string(ev.Outcome)).Inc()
		return
	case seat.MemberJoined, seat.MemberLeft:
		h.markStats()
	}
	if d.To == seat.Internal {
		return
	}
	method, body, ok := wireNote(d.Event)
	if !ok {
		h.srv.log.Error("signal: an event without a wire form", "event", fmt.Sprintf("%T", d.Event))
		return
	}
	frame, err := encodeNotification(method, body)
	if err != nil {
		h.srv.log.Error("signal: encode notification", "method", method, "err", err)
		return
	}
	for _, s := range h.targets(d) {
		s.send(frame)
	}
	switch d.Event.(type) {
	case seat.KickedOut:
		if s := h.detachUser(d.UserID); s != nil {
			s.closeAfterQueued(websocket.StatusNormalClosure, "kicked out")
		}
	case seat.RoomEnded:
		for _, s := range h.detachAll() {
			s.closeAfterQueued(websocket.StatusNormalClosure, "room ended")
		}
	}
}

func (h *roomHub) targets(d seat.Delivery) []*session {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch d.To {
	case seat.OneUser:
		if s := h.members[d.UserID]; s != nil {
			return []*session{s}
		}
		return nil
	case seat.Everyone, seat.Hosts:
		out := make([]*session, 0, len(h.members))
		for id, s := range h.members {
			if id == d.Except || (d.To == seat.Hosts && !h.roleLocked(s).IsHost()) {
				continue
			}
			out = append(out, s)
		}
		return out
	}
	return nil
}

// markStats asks the stats loop to look at the member count.
func (h *roomHub) markStats() {
	select {
	case h.dirty <- struct{}{}:
	default:
	}
}

// statsLoop sends room.stats {memberCount} to everyone, at most once per
// statsPeriod and only when the count changed. It ends with the room or the
// server.
func (h *roomHub) statsLoop() {
	last := 0
	var lastSent time.Time
	timer := time.NewTimer(0)
	<-timer.C
	defer timer.Stop()
	for {
		select {
		case <-h.room.Done():
			return
		case <-h.srv.ctx.Done():
			return
		case <-h.dirty:
		}
		if wait := time.Until(lastSent.Add(statsPeriod)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-h.room.Done():
				return
			case <-h.srv.ctx.Done():
				return
			case <-timer.C:
			}
		}
		// Whatever marked the count dirty meanwhile is covered by this read.
		select {
		case <-h.dirty:
		default:
		}
		_ = h.room.Do(func(r *seat.Room) ([]seat.Delivery, error) {
			count := r.MemberCount()
			if count == last {
				return nil, nil
			}
			last, lastSent = count, time.Now()
			return []seat.Delivery{{To: seat.Everyone, Event: proto.RoomStats{MemberCount: count}}}, nil
		})
	}
}
