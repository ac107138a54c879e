package signal

import (
	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// The wire form of the seat controller's §11 events (PROTOCOL.md §11);
// wireNote asks here first.
func wireNoteRooms(ev seat.Event) (method string, body any, ok bool) {
	switch e := ev.(type) {
	case seat.RoomUpdated:
		return proto.NoteRoomUpdated, proto.RoomUpdated{Title: e.Title, Cover: e.Cover, Metadata: e.Metadata}, true
	case seat.RoleChanged:
		return proto.NoteRoomRoleChanged, proto.RoleChanged{User: wireUser(e.User)}, true
	}
	return "", nil, false
}

// metaPatch is a room.update's or PATCH's fields as the controller takes
// them.
func metaPatch(p proto.RoomUpdateParams) seat.MetaPatch {
	return seat.MetaPatch{Title: p.Title, Cover: p.Cover, Metadata: p.Metadata}
}

// errChatMuted refuses room.sendMessage from a user the service muted.
var errChatMuted = edgeErr(proto.ReasonChatMuted, "the app muted your chat in this room")
