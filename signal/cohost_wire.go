package signal

import (
	"errors"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/seat/cohost"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// The co-host controller's events as the wire shows them (PROTOCOL.md §10).

func wireOwner(h cohost.Host) proto.User {
	return proto.User{UserID: h.UserID, Name: h.Name, Avatar: h.Avatar, Role: proto.RoleOwner}
}

func wireRooms(ms []cohost.Member) []proto.CohostRoom {
	out := make([]proto.CohostRoom, len(ms))
	for i, m := range ms {
		out[i] = proto.CohostRoom{RoomID: m.RoomID, Owner: wireOwner(m.Owner)}
	}
	return out
}

func wireCohostRequest(q cohost.Request) proto.CohostRequest {
	return proto.CohostRequest{
		RequestID: q.RequestID, ExtraInfo: q.ExtraInfo, ExpiresAt: q.ExpiresAt.UnixMilli(),
		From: proto.CohostFrom{RoomID: q.FromRoom, User: wireOwner(q.FromHost)},
	}
}

func wireEvent(ev cohost.Event) (string, any) {
	switch e := ev.(type) {
	case cohost.RequestReceived:
		return proto.NoteCohostRequestReceived, proto.CohostRequestReceived{Request: wireCohostRequest(e.Request)}
	case cohost.RequestCancelled:
		return proto.NoteCohostRequestCancelled, proto.CohostRequestCancelled{RequestID: e.RequestID, Reason: e.Reason}
	case cohost.RequestResponded:
		return proto.NoteCohostRequestResponded, proto.CohostRequestResponded{RequestID: e.RequestID, Accepted: e.Accepted}
	case cohost.Changed:
		return proto.NoteCohostChanged, proto.CohostChanged{Rooms: wireRooms(e.Rooms)}
	case cohost.BattleStarted:
		return proto.NoteBattleStarted, proto.BattleStarted{BattleID: e.BattleID, Rooms: e.Rooms, EndsAt: e.EndsAt.UnixMilli()}
	case cohost.BattleScores:
		return proto.NoteBattleScores, proto.BattleScores{BattleID: e.BattleID, Scores: e.Scores}
	case cohost.BattleEnded:
		winners := e.Winners
		if winners == nil {
			winners = []string{}
		}
		return proto.NoteBattleEnded, proto.BattleEnded{BattleID: e.BattleID, Scores: e.Scores, Winners: winners, Reason: e.Reason}
	}
	return "", nil
}

// wireError gives a controller refusal the edge's error shape.
func wireError(err error) error {
	var ce *cohost.Error
	if !errors.As(err, &ce) {
		return err
	}
	return &seat.Error{Reason: ce.Reason, Message: ce.Message} // the edge adds the code
}
