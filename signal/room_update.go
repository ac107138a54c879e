package signal

import (
	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// room.update (PROTOCOL.md §11): the owner or an admin changes the room's
// title, cover or metadata; everyone gets room.updated. The limits are the
// controller's (seat.Meta), so room.join's create, room.update and the
// server API refuse the same things.
func checkUpdate(p *proto.RoomUpdateParams) error {
	if p.Title == nil && p.Cover == nil && p.Metadata == nil {
		return invalidParams("title, cover or metadata is required")
	}
	return nil
}

func updateRoom(s *session, r *seat.Room, p *proto.RoomUpdateParams) ([]seat.Delivery, error) {
	return r.Update(s.user.UserID, metaPatch(*p))
}

// createMeta is room.join's create metadata as the controller takes it.
func createMeta(c *proto.CreateParams) seat.Meta {
	var m seat.Meta
	if c == nil {
		return m
	}
	if c.Title != nil {
		m.Title = *c.Title
	}
	if c.Cover != nil {
		m.Cover = *c.Cover
	}
	if c.Metadata != nil {
		m.Metadata = *c.Metadata
	}
	return m
}
