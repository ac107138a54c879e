package signal

import (
	"errors"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal/token"
	"github.com/seatsfu/seatsfu/signal/whip"
)

// Presence — whether a member is there, or dropped and inside its grace —
// has one record: the room's hub. A member is present while a signalling
// socket speaks for it (hub.members) or, for an owner publishing from an
// encoder, while a WHIP session holds it (hub.held). Both change under
// hub.mu; the decisions they feed (Disconnect, Join) run under the room's
// lock, so a socket and a WHIP session ending at once see each other.

// whipEdge is what the WHIP/WHEP doors (signal/whip) take from the edge.
type whipEdge struct{ s *Server }

// Open is the token's room, opened by an owner when absent, and its hub.
func (e whipEdge) Open(id token.Identity) (*sfu.Room, whip.Presence, error) {
	room, hub, err := e.s.openOrFind(userOf(id), id.Room, nil)
	if err != nil {
		return nil, nil, err
	}
	return room, hub, nil
}

// present reports whether a socket or a WHIP session speaks for userID.
func (h *roomHub) present(userID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.members[userID] != nil || h.held[userID] > 0
}

// hasSocket reports whether a signalling socket speaks for userID.
func (h *roomHub) hasSocket(userID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.members[userID] != nil
}

// Hold implements whip.Presence: one more WHIP session holds the user.
// Without a socket, the user is resumed inside its reconnect grace (seat
// kept), exactly as a room.join would. A token with the owner role for
// another owner's room is refused (permission_denied) and nothing counted.
func (h *roomHub) Hold(id token.Identity) error {
	h.mu.Lock()
	h.held[id.UserID]++
	h.mu.Unlock()
	u := userOf(id)
	err := h.room.Do(func(sr *seat.Room) ([]seat.Delivery, error) {
		if h.hasSocket(u.UserID) {
			return nil, nil
		}
		_, ds, err := sr.Join(u)
		return ds, err
	})
	if err != nil {
		h.unhold(id.UserID)
	}
	return err
}

// Release implements whip.Presence: a WHIP session of the user ended or
// was refused. With neither a socket nor another WHIP session left, the
// user disconnects (grace, then owner_timeout); endIfAlone ends at once a
// room that nobody else entered. The check and the change happen under the
// room's lock, so a socket joining meanwhile is seen.
func (h *roomHub) Release(userID string, endIfAlone bool) {
	h.unhold(userID)
	err := h.room.Do(func(sr *seat.Room) ([]seat.Delivery, error) {
		if h.present(userID) {
			return nil, nil
		}
		if endIfAlone && sr.MemberCount() == 1 {
			return sr.End(userID)
		}
		return sr.Disconnect(userID)
	})
	if err != nil && !errors.Is(err, sfu.ErrRoomEnded) {
		h.srv.log.Warn("signal: owner presence after whip", "room", h.id, "err", err)
	}
}

func (h *roomHub) unhold(userID string) {
	h.mu.Lock()
	if h.held[userID]--; h.held[userID] <= 0 {
		delete(h.held, userID)
	}
	h.mu.Unlock()
}
