package cluster

import (
	"fmt"

	"github.com/seatsfu/seatsfu/seat"
)

// RestoreRoom rebuilds a room from the state its previous hosting node
// saved: the takeover recipe for Config.Adopt. cfg supplies what belongs
// to this node (Grace, MaxMembers, Clock); the state supplies the rest.
//
// Every member the dead node served lost its connection with it, so every
// member still marked connected is disconnected now: its reconnect grace
// starts at the takeover, and its client resumes it by joining again on
// any node (seat, requests and role kept). Members already inside their
// grace keep their original deadline. Publishing flags clear with the
// disconnect, since publishers' connections ended with their host: they
// publish again. Pending requests stay pending with their deadlines.
//
// The notifications the disconnects cause are dropped: nobody is
// connected to this room here yet, and each client gets the room's state
// in its room.join answer when it comes back.
func RestoreRoom(saved Saved, cfg seat.Config) (*seat.Room, error) {
	st, err := DecodeState(saved.Blob)
	if err != nil {
		return nil, err
	}
	r, err := seat.Restore(st, cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster: restore room %q: %w", st.RoomID, err)
	}
	for _, m := range st.Members {
		if !m.Connected {
			continue
		}
		if _, err := r.Disconnect(m.User.UserID); err != nil {
			return nil, fmt.Errorf("cluster: restore room %q: disconnect %q: %w", st.RoomID, m.User.UserID, err)
		}
		if r.Ended() {
			break // no grace configured: the owner's disconnect ended the room
		}
	}
	return r, nil
}
