package signal

import "github.com/seatsfu/seatsfu/signal/proto"

// A room hub's share of co-hosting (PROTOCOL.md §10): the room's co-host
// state as its snapshots show it, kept under the hub's lock together with
// the sockets the desk's notifications go to.

// ended reports whether the hub's room has ended.
func (h *roomHub) ended() bool {
	select {
	case <-h.room.Done():
		return true
	default:
		return false
	}
}

// sendToOwner records the room's new co-host state and queues frame to
// the owner's socket, if it has one, in one hold of mu (see
// broadcastCohost).
func (h *roomHub) sendToOwner(frame []byte, view proto.CohostSnapshot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cohost = view
	if s := h.members[h.owner.UserID]; s != nil {
		s.send(frame)
	}
}

// cohostView is the room's co-host state as its snapshots show it.
func (h *roomHub) cohostView() proto.CohostSnapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cohost
}

// setCohostView records the room's co-host state.
func (h *roomHub) setCohostView(view proto.CohostSnapshot) {
	h.mu.Lock()
	h.cohost = view
	h.mu.Unlock()
}

// broadcastCohost records the room's new co-host state and queues frame to
// every member, in one hold of mu: a joiner whose snapshot (joinedSnapshot)
// does not show this change yet gets the notification of it.
func (h *roomHub) broadcastCohost(frame []byte, view proto.CohostSnapshot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cohost = view
	for _, s := range h.members {
		s.send(frame)
	}
}

// joinedSnapshot is room.join's result: the seat snapshot and the room's
// co-host state (PROTOCOL.md §10); the pending requests only for the owner.
// Called with h.mu held.
func (h *roomHub) joinedSnapshot(snap proto.Snapshot, owner bool) any {
	v := h.cohost
	if v.Cohost == nil {
		v.Cohost = []proto.CohostRoom{}
	}
	if !owner {
		v.CohostRequests, v.CohostSent = nil, nil
	}
	return struct {
		proto.Snapshot
		proto.CohostSnapshot
	}{snap, v}
}
