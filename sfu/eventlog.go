package sfu

import (
	"context"
	"log/slog"

	"github.com/seatsfu/seatsfu/seat"
)

// logEvents writes the operator's record of a room: one INFO line per seat
// taken or left and per host arriving or leaving, each with the room's id
// (the room's logger carries it) and the user's. Audience members come and
// go by the thousand in a popular room, so their joins are DEBUG. It reports
// whether ds end the room, and why (for the "room ended" line). Called with
// mu held, after the media effects are applied.
func (r *Room) logEvents(ds []seat.Delivery) (endReason string, ended bool) {
	for _, d := range ds {
		switch ev := d.Event.(type) {
		case seat.SeatChanged:
			for _, l := range ev.Left {
				if l.Reason == seat.LeftRoomEnded {
					continue // the "room ended" line says it once
				}
				r.log.Info("seat left", "user", l.User.UserID, "seat", l.SeatIndex, "reason", l.Reason)
			}
			for _, j := range ev.Joined {
				r.log.Info("seat taken", "user", j.User.UserID, "seat", j.SeatIndex)
			}
		case seat.MemberJoined:
			r.log.Log(context.Background(), memberLevel(ev.User), "member joined", "user", ev.User.UserID, "role", ev.User.Role)
		case seat.MemberLeft:
			r.log.Log(context.Background(), memberLevel(ev.User), "member left", "user", ev.User.UserID, "role", ev.User.Role, "reason", ev.Reason)
		case seat.RoomEnded:
			endReason, ended = ev.Reason, true
		}
	}
	return endReason, ended
}

func memberLevel(u seat.User) slog.Level {
	if u.Role == seat.RoleAudience {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}
