package signal

import (
	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/token"
)

// The edge's one converter between the rule engine's domain types and the
// wire (signal/proto): seat decides in its own terms, the edge speaks
// PROTOCOL.md §2 and §3.

// userOf is the member a verified token speaks for.
func userOf(id token.Identity) seat.User {
	return seat.User{UserID: id.UserID, Name: id.Name, Avatar: id.Avatar, Role: seat.Role(id.Role)}
}

func wireUser(u seat.User) proto.User {
	return proto.User{UserID: u.UserID, Name: u.Name, Avatar: u.Avatar, Role: proto.Role(u.Role)}
}

func wireUserRef(u *seat.User) *proto.User {
	if u == nil {
		return nil
	}
	w := wireUser(*u)
	return &w
}

func wireSeat(s seat.Seat) proto.Seat {
	return proto.Seat{
		Index:       s.Index,
		User:        wireUserRef(s.User),
		Locked:      s.Locked,
		AudioLocked: s.AudioLocked,
		VideoLocked: s.VideoLocked,
		Microphone:  proto.Device(s.Microphone),
		Camera:      proto.Device(s.Camera),
	}
}

func wireRequest(r seat.Request) proto.Request {
	return proto.Request{
		RequestID: r.RequestID,
		Kind:      proto.RequestKind(r.Kind),
		From:      wireUser(r.From),
		To:        wireUserRef(r.To),
		SeatIndex: r.SeatIndex,
		ExtraInfo: r.ExtraInfo,
		ExpiresAt: r.ExpiresAt,
	}
}

func wireSnapshot(s seat.Snapshot) proto.Snapshot {
	return proto.Snapshot{
		Room: proto.RoomInfo{
			RoomID:      s.Room.RoomID,
			MaxSeats:    s.Room.MaxSeats,
			SeatMode:    proto.SeatMode(s.Room.SeatMode),
			MemberCount: s.Room.MemberCount,
			Title:       s.Room.Title,
			Cover:       s.Room.Cover,
			Metadata:    s.Room.Metadata,
			CreatedAt:   s.Room.CreatedAt,
		},
		Self:     wireUser(s.Self),
		Seats:    wireList(s.Seats, wireSeat),
		Requests: wireList(s.Requests, wireRequest),

		RequestsTotal: s.RequestsTotal,
	}
}

// wireList converts a list, keeping nil nil (null on the wire) and empty
// empty ([]), as the domain had it.
func wireList[T, W any](in []T, conv func(T) W) []W {
	if in == nil {
		return nil
	}
	out := make([]W, len(in))
	for i, v := range in {
		out[i] = conv(v)
	}
	return out
}

// wireNote is a delivery's notification: its method name and body. The
// edge's own events (room.stats, room.message) are proto bodies already.
// ok is false for events that never reach the wire (seat.RequestEnded) and
// for types the edge does not know.
func wireNote(ev seat.Event) (method string, body any, ok bool) {
	if method, body, ok := wireNoteRooms(ev); ok { // §11's events (api_wire.go)
		return method, body, true
	}
	switch e := ev.(type) {
	case seat.SeatChanged:
		return proto.NoteSeatChanged, proto.SeatChanged{
			Seats: wireList(e.Seats, wireSeat),
			Joined: wireList(e.Joined, func(j seat.SeatJoin) proto.SeatJoin {
				return proto.SeatJoin{User: wireUser(j.User), SeatIndex: j.SeatIndex}
			}),
			Left: wireList(e.Left, func(l seat.SeatLeave) proto.SeatLeave {
				return proto.SeatLeave{User: wireUser(l.User), SeatIndex: l.SeatIndex, Reason: l.Reason}
			}),
		}, true
	case seat.RoomEnded:
		return proto.NoteRoomEnded, proto.RoomEnded{Reason: e.Reason}, true
	case seat.MemberJoined:
		return proto.NoteMemberJoined, proto.MemberJoined{User: wireUser(e.User)}, true
	case seat.MemberLeft:
		return proto.NoteMemberLeft, proto.MemberLeft{User: wireUser(e.User), Reason: e.Reason}, true
	case seat.KickedOut:
		return proto.NoteKickedOut, proto.KickedOut{By: wireUserRef(e.By)}, true
	case seat.ApplicationReceived:
		return proto.NoteApplicationReceived, proto.ApplicationReceived{Request: wireRequest(e.Request)}, true
	case seat.ApplicationCancelled:
		return proto.NoteApplicationCancelled, proto.ApplicationCancelled{User: wireUser(e.User), Reason: e.Reason}, true
	case seat.ApplicationProcessedByOtherHost:
		return proto.NoteApplicationProcessedByOtherHost, proto.ApplicationProcessedByOtherHost{
			User: wireUser(e.User), Host: wireUser(e.Host), Accepted: e.Accepted}, true
	case seat.InvitationResponded:
		return proto.NoteInvitationResponded, proto.InvitationResponded{User: wireUser(e.User), Accepted: e.Accepted}, true
	case seat.InvitationNoResponse:
		return proto.NoteInvitationNoResponse, proto.InvitationNoResponse{User: wireUser(e.User), Reason: e.Reason}, true
	case seat.ApplicationResponded:
		return proto.NoteApplicationResponded, proto.ApplicationResponded{
			Accepted: e.Accepted, Host: wireUser(e.Host), SeatIndex: e.SeatIndex}, true
	case seat.ApplicationNoResponse:
		return proto.NoteApplicationNoResponse, proto.ApplicationNoResponse{Reason: e.Reason}, true
	case seat.InvitationReceived:
		return proto.NoteInvitationReceived, proto.InvitationReceived{Request: wireRequest(e.Request)}, true
	case seat.InvitationCancelled:
		return proto.NoteInvitationCancelled, proto.InvitationCancelled{Host: wireUser(e.Host), Reason: e.Reason}, true
	case seat.SeatKicked:
		return proto.NoteSeatKicked, proto.SeatKicked{SeatIndex: e.SeatIndex, By: wireUserRef(e.By)}, true
	case proto.RoomStats:
		return proto.NoteRoomStats, e, true
	case proto.RoomMessage:
		return proto.NoteRoomMessage, e, true
	}
	return "", nil, false
}
