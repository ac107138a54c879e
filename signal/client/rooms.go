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
