package proto

// The wire types of the node's limits (PROTOCOL.md §3.4): paging the
// pending seat requests, and a session's token lifetime.

// SnapshotRequests is the most pending requests a host's room.join snapshot
// lists (the oldest); the snapshot's requestsTotal counts them all and
// seat.requests pages the rest.
const SnapshotRequests = 100

// SeatRequestsParams is seat.requests' params: cursor "" (or absent)
// starts, limit is 1..100 (default 100).
type SeatRequestsParams struct {
	Cursor string `json:"cursor,omitempty"`
	Limit  *int   `json:"limit,omitempty"`
}

// SeatRequestsResult is seat.requests' result: one page of the pending
// requests in creation order; NextCursor is "" at the end.
type SeatRequestsResult struct {
	Requests   []Request `json:"requests"`
	NextCursor string    `json:"nextCursor"`
}

// SessionRefreshParams is session.refresh's params: a fresh token for the
// same room, user and role.
type SessionRefreshParams struct {
	Token string `json:"token"`
}

// SessionExpired is the session.expired notification's (empty) body: the
// token expired, and the socket closes after the grace unless
// session.refresh gives it a valid one.
type SessionExpired struct{}

// CloseJoinTimeout and CloseTokenExpired are the WebSocket close codes of a
// socket that did not join in time and of one whose token expired without a
// refresh (1008, policy violation); CloseTryAgainLater (1013) refuses a
// socket when the node is over its connection caps.
const (
	CloseJoinTimeout    = 1008
	CloseTokenExpired   = 1008
	CloseTryAgainLater  = 1013
	CloseReasonJoin     = "join timeout"
	CloseReasonExpired  = "token expired"
	CloseReasonCapacity = "server over capacity"
)
