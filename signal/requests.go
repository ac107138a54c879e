package signal

import (
	"encoding/json"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// registerLimitMethods adds the methods of the node's limits (PROTOCOL.md
// §3, v2): paging the pending requests, and refreshing a session's token.
func registerLimitMethods(m map[string]method) {
	m[proto.MethodSeatRequests] = bind(listRequests)
	m[proto.MethodSessionRefresh] = bind(refreshSession)
}

// unjoinedMethods may be called before room.join: joining itself, and
// refreshing the token a socket was opened with.
func unjoinedMethod(name string) bool {
	return name == proto.MethodRoomJoin || name == proto.MethodSessionRefresh
}

type requestsParams proto.SeatRequestsParams

func (p *requestsParams) validate() error {
	if p.Limit != nil && (*p.Limit < 1 || *p.Limit > 100) {
		return invalidParams("limit must be 1..100")
	}
	return nil
}

// requestsResult is seat.requests' result.
type requestsResult struct {
	Requests   []seat.Request `json:"requests"`
	NextCursor string         `json:"nextCursor"`
}

// listRequests is seat.requests: one page of the pending requests, for
// hosts.
func listRequests(s *session, _ json.RawMessage, p *requestsParams) (any, error) {
	limit := 100
	if p.Limit != nil {
		limit = *p.Limit
	}
	var res requestsResult
	err := s.room.Do(func(r *seat.Room) (_ []seat.Delivery, err error) {
		res.Requests, res.NextCursor, err = r.Requests(s.user.UserID, p.Cursor, limit)
		return nil, err
	})
	if res.Requests == nil {
		res.Requests = []seat.Request{}
	}
	return res, err
}
