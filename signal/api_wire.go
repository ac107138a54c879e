package signal

import (
	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// The wire form of the seat controller's §11 events and objects
// (PROTOCOL.md §11). wireEvent is what the hub encodes for an event: the
// events seat gained for §11 carry no JSON of their own, and a service
// action's kick says by: null.
func wireEvent(ev seat.Event) any {
	switch e := ev.(type) {
	case seat.RoomUpdated:
		return proto.RoomUpdated{Title: e.Title, Cover: e.Cover, Metadata: e.Metadata}
	case seat.RoleChanged:
		return proto.RoleChanged{User: protoUser(e.User)}
	case seat.SeatKicked:
		if e.ByService {
			return proto.SeatKickedByService{SeatIndex: e.SeatIndex}
		}
	case seat.KickedOut:
		if e.ByService {
			return proto.KickedOutByService{}
		}
	}
	return ev
}

func protoUser(u seat.User) proto.User {
	return proto.User{UserID: u.UserID, Name: u.Name, Avatar: u.Avatar, Role: proto.Role(u.Role)}
}

func protoUsers(us []seat.User) []proto.User {
	out := make([]proto.User, len(us))
	for i, u := range us {
		out[i] = protoUser(u)
	}
	return out
}

func protoSeats(ss []seat.Seat) []proto.Seat {
	out := make([]proto.Seat, len(ss))
	for i, s := range ss {
		out[i] = proto.Seat{
			Index: s.Index, Locked: s.Locked, AudioLocked: s.AudioLocked, VideoLocked: s.VideoLocked,
			Microphone: proto.Device(s.Microphone), Camera: proto.Device(s.Camera),
		}
		if s.User != nil {
			u := protoUser(*s.User)
			out[i].User = &u
		}
	}
	return out
}

func protoRequest(q seat.Request) proto.Request {
	out := proto.Request{
		RequestID: q.RequestID, Kind: proto.RequestKind(q.Kind), From: protoUser(q.From),
		SeatIndex: q.SeatIndex, ExtraInfo: q.ExtraInfo, ExpiresAt: q.ExpiresAt,
	}
	if q.To != nil {
		to := protoUser(*q.To)
		out.To = &to
	}
	return out
}

// metaPatch is a room.update's or PATCH's fields as the controller takes
// them.
func metaPatch(p proto.RoomUpdateParams) seat.MetaPatch {
	return seat.MetaPatch{Title: p.Title, Cover: p.Cover, Metadata: p.Metadata}
}

// systemMessage is room.message from the server API: from is null.
type systemMessage proto.SystemMessage

func (systemMessage) Method() string { return proto.NoteRoomMessage }

// errChatMuted refuses room.sendMessage from a user the service muted.
var errChatMuted = &seat.Error{Code: proto.ReasonChatMuted.Code(), Reason: string(proto.ReasonChatMuted), Message: "the app muted your chat in this room"}
