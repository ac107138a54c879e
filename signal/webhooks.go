package signal

import (
	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/webhook"
)

// observe is the hub's look at every delivery before it is routed: it
// keeps the roles the server API gave, and turns the room's events into
// webhooks (PROTOCOL.md §11). It runs under the room's lock, like all of
// Notify, which is what keeps each room's webhooks in order; Emit only
// queues.
func (h *roomHub) observe(d seat.Delivery) {
	if ev, ok := d.Event.(seat.RoleChanged); ok {
		h.mu.Lock()
		if h.roles == nil {
			h.roles = make(map[string]seat.Role)
		}
		if s := h.members[ev.User.UserID]; s != nil {
			// Its socket counts, and is bounded, under the new role from now on.
			h.srv.metrics.participants.WithLabelValues(string(h.roleLocked(s))).Dec()
			h.srv.metrics.participants.WithLabelValues(string(ev.User.Role)).Inc()
			s.out.setLimit(h.srv.queueLimitFor(ev.User.Role))
		}
		h.roles[ev.User.UserID] = ev.User.Role
		h.mu.Unlock()
	}
	hooks := h.srv.cfg.Webhooks
	if hooks == nil {
		return
	}
	switch ev := d.Event.(type) {
	case seat.MemberJoined:
		hooks.Emit(h.id, webhook.MemberJoined, proto.WebhookMember{User: wireUser(ev.User)})
	case seat.MemberLeft:
		hooks.Emit(h.id, webhook.MemberLeft, proto.WebhookMemberLeft{User: wireUser(ev.User), Reason: ev.Reason})
	case seat.SeatChanged:
		// A move is a leave (reason moved) and then a take.
		for _, l := range ev.Left {
			hooks.Emit(h.id, webhook.SeatLeft, proto.WebhookSeatLeft{User: wireUser(l.User), SeatIndex: l.SeatIndex, Reason: l.Reason})
		}
		for _, j := range ev.Joined {
			hooks.Emit(h.id, webhook.SeatTaken, proto.WebhookSeatTaken{User: wireUser(j.User), SeatIndex: j.SeatIndex})
		}
	case seat.RequestEnded:
		hooks.Emit(h.id, webhook.RequestEnded, proto.WebhookRequestEnded{Request: wireRequest(ev.Request), Outcome: string(ev.Outcome)})
	case seat.RoomEnded:
		hooks.Emit(h.id, webhook.RoomEnded, proto.WebhookRoomEnded{Reason: ev.Reason})
	}
}

// roomStarted sends a new room's first three events: room.started, the
// owner's member.joined and its seat.taken of seat 0. It runs while
// openOrFind holds the server's lock, before anyone can reach the room, so
// nothing of the room can come before them.
func (h *roomHub) roomStarted(owner seat.User, title string) {
	hooks := h.srv.cfg.Webhooks
	if hooks == nil {
		return
	}
	u := wireUser(owner)
	hooks.Emit(h.id, webhook.RoomStarted, proto.WebhookRoomStarted{Owner: u, Title: title})
	hooks.Emit(h.id, webhook.MemberJoined, proto.WebhookMember{User: u})
	hooks.Emit(h.id, webhook.SeatTaken, proto.WebhookSeatTaken{User: u, SeatIndex: 0})
}

// roleLocked is s's user's role now: the server API's grant if there is
// one, else its token's. Called with h.mu held.
func (h *roomHub) roleLocked(s *session) seat.Role {
	if r, ok := h.roles[s.user.UserID]; ok {
		return r
	}
	return s.user.Role
}
