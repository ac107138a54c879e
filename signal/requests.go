package signal

import (
	"encoding/json"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// registerLimitMethods adds the methods of the node's limits (PROTOCOL.md
// §3.4): paging the pending requests, and refreshing a session's token.
func registerLimitMethods(m map[string]method) {
	m[proto.MethodSeatRequests] = bind(listRequests)
	m[proto.MethodSessionRefresh] = bind(refreshSession)
}

// unjoinedMethods may be called before room.join: joining itself, and
// refreshing the token a socket was opened with.
func unjoinedMethod(name string) bool {
	return name == proto.MethodRoomJoin || name == proto.MethodSessionRefresh
}

func checkRequestsPage(p *proto.SeatRequestsParams) error {
	if p.Limit != nil && (*p.Limit < 1 || *p.Limit > 100) {
		return invalidParams("limit must be 1..100")
	}
	return nil
}

// listRequests is seat.requests: one page of the pending requests, for
// hosts.
func listRequests(s *session, _ json.RawMessage, p *proto.SeatRequestsParams) (any, error) {
	limit := 100
	if p.Limit != nil {
		limit = *p.Limit
	}
	var page []seat.Request
	res := proto.SeatRequestsResult{Requests: []proto.Request{}}
	err := s.room.Do(func(r *seat.Room) (_ []seat.Delivery, err error) {
		page, res.NextCursor, err = r.Requests(s.user.UserID, p.Cursor, limit)
		return nil, err
	})
	for _, q := range page {
		res.Requests = append(res.Requests, wireRequest(q))
	}
	return res, err
}
