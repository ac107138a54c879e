package proto

// Co-hosting and battles (PROTOCOL.md §10): params, results, notification
// bodies and the snapshot's additions.

// CohostRequestParams are cohost.request's params. Timeout is in seconds
// (1..60, absent = 10).
type CohostRequestParams struct {
	RoomID    string `json:"roomId"`
	Timeout   *int   `json:"timeout,omitempty"`
	ExtraInfo string `json:"extraInfo,omitempty"`
}

// CohostRequestResult is cohost.request's result.
type CohostRequestResult struct {
	RequestID string `json:"requestId"`
}

// CohostRequestIDParams are the params of cohost.cancel, cohost.accept and
// cohost.reject.
type CohostRequestIDParams struct {
	RequestID string `json:"requestId"`
}

// BattleStartParams are battle.start's params: seconds, 10..3600.
type BattleStartParams struct {
	Duration int `json:"duration"`
}

// BattleStartResult is battle.start's result.
type BattleStartResult struct {
	BattleID string `json:"battleId"`
}

// CohostRoom is one room of a connection.
type CohostRoom struct {
	RoomID string `json:"roomId"`
	Owner  User   `json:"owner"`
}

// CohostFrom is the requesting side of a co-host request.
type CohostFrom struct {
	RoomID string `json:"roomId"`
	User   User   `json:"user"`
}

// CohostRequest is a pending co-host request as its target sees it.
type CohostRequest struct {
	RequestID string     `json:"requestId"`
	From      CohostFrom `json:"from"`
	ExtraInfo string     `json:"extraInfo"`
	ExpiresAt int64      `json:"expiresAt"` // unix ms
}

// CohostRequestReceived is cohost.requestReceived, to the target's owner.
type CohostRequestReceived struct {
	Request CohostRequest `json:"request"`
}

// CohostRequestCancelled is cohost.requestCancelled; Reason is "cancelled",
// "timeout" or "room_ended".
type CohostRequestCancelled struct {
	RequestID string `json:"requestId"`
	Reason    string `json:"reason"`
}

// CohostRequestResponded is cohost.requestResponded, to the requester.
type CohostRequestResponded struct {
	RequestID string `json:"requestId"`
	Accepted  bool   `json:"accepted"`
}

// CohostChanged is cohost.changed: the connection's rooms (requester,
// accepter, then later rooms in joining order); empty when it ended.
type CohostChanged struct {
	Rooms []CohostRoom `json:"rooms"`
}

// BattleStarted is battle.started; EndsAt is unix ms.
type BattleStarted struct {
	BattleID string   `json:"battleId"`
	Rooms    []string `json:"rooms"`
	EndsAt   int64    `json:"endsAt"`
}

// BattleScores is battle.scores (at most 5 a second).
type BattleScores struct {
	BattleID string           `json:"battleId"`
	Scores   map[string]int64 `json:"scores"`
}

// BattleEnded is battle.ended; Reason is "timeout", "stopped" or
// "connection_ended"; Winners are every room with the top score.
type BattleEnded struct {
	BattleID string           `json:"battleId"`
	Scores   map[string]int64 `json:"scores"`
	Winners  []string         `json:"winners"`
	Reason   string           `json:"reason"`
}

// BattleState is the snapshot's running battle.
type BattleState struct {
	BattleID string           `json:"battleId"`
	Rooms    []string         `json:"rooms"`
	EndsAt   int64            `json:"endsAt"`
	Scores   map[string]int64 `json:"scores"`
}

// CohostSnapshot is what room.join's snapshot gains: the connection's rooms
// ([] when none) and the running battle (null when none); for the owner
// also the pending co-host requests to its room and those it sent, so an
// owner coming back within its grace can still answer or cancel them.
type CohostSnapshot struct {
	Cohost         []CohostRoom    `json:"cohost"`
	Battle         *BattleState    `json:"battle"`
	CohostRequests []CohostRequest `json:"cohostRequests,omitempty"`
	CohostSent     []CohostSent    `json:"cohostSent,omitempty"`
}

// CohostSent is a pending co-host request the owner's room sent.
type CohostSent struct {
	RequestID string `json:"requestId"`
	RoomID    string `json:"roomId"` // the target
	ExpiresAt int64  `json:"expiresAt"`
}

// BattleScoreBody is the body of the score endpoints (the server API's
// POST /v1/api/battles/{battleId}/score and the dev-mode demo one).
type BattleScoreBody struct {
	RoomID string `json:"roomId"`
	Delta  *int64 `json:"delta"`
}
