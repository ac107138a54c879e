package signal

import (
	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// room.update (PROTOCOL.md §11): the owner or an admin changes the room's
// title, cover or metadata; everyone gets room.updated. The limits are the
// controller's (seat.Meta), so room.join's create, room.update and the
// server API refuse the same things.
type updateParams proto.RoomUpdateParams

func (p *updateParams) validate() error {
	if p.Title == nil && p.Cover == nil && p.Metadata == nil {
		return invalidParams("title, cover or metadata is required")
	}
	return nil
}

func updateRoom(s *session, r *seat.Room, p *updateParams) ([]seat.Delivery, error) {
	return r.Update(s.user.UserID, metaPatch(proto.RoomUpdateParams(*p)))
}

// createMeta is room.join's create metadata as the controller takes it.
func createMeta(c *createParams) seat.Meta {
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
