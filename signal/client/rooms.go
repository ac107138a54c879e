package client

import (
	"context"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// Notifications of rooms as data (PROTOCOL.md §11). Decode their params
// with Decode[proto.RoomUpdated] and Decode[proto.RoleChanged].
const (
	MethodRoomUpdated = proto.NoteRoomUpdated
	MethodRoleChanged = proto.NoteRoomRoleChanged
)

// applyRooms folds §11's notifications into the store: the metadata, and
// this client's own role when the server API changed it (a new admin hears
// of applications made from then on; seat.requests lists older ones).
func (s *state) applyRooms(ev Event) error {
	switch ev.Method {
	case MethodRoomUpdated:
		v, err := Decode[proto.RoomUpdated](ev)
		if err != nil {
			return err
		}
		s.info.Title, s.info.Cover, s.info.Metadata = v.Title, v.Cover, v.Metadata
	case MethodRoleChanged:
		v, err := Decode[proto.RoleChanged](ev)
		if err != nil {
			return err
		}
		if v.User.UserID == s.self.UserID {
			s.self.Role = v.User.Role
		}
	}
	return nil
}

// UpdateRoom is room.update (owner, admin): the fields set in p change, ""
// clears one. Everyone, the caller included, gets room.updated.
func (c *Client) UpdateRoom(ctx context.Context, p proto.RoomUpdateParams) error {
	return c.Call(ctx, proto.MethodRoomUpdate, p, nil)
}

// optional is nil for "" (the field is left out), else a pointer to s.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
