package cohost

import "time"

// Limits the controller enforces on its inputs (PROTOCOL.md §10).
const (
	MinRooms       = 2  // a connection joins at least two rooms
	MaxRoomsLimit  = 9  // and at most this many, whatever the setting
	MinTimeout     = 1  // seconds of a request's timeout
	MaxTimeout     = 60 // seconds
	DefaultTimeout = 10 // seconds, when the request names none
	MaxExtraInfo   = 1024
	MinDuration    = 10   // seconds of a battle
	MaxDuration    = 3600 // seconds
	// ScoresEvery is the least time between two battle.scores of a battle:
	// at most five a second.
	ScoresEvery = 200 * time.Millisecond
)

// Clock is the controller's only source of time.
type Clock interface{ Now() time.Time }

// Host is a room's owner as notifications show it.
type Host struct {
	UserID string
	Name   string
	Avatar string
}

// Member is one room of a connection, with its owner.
type Member struct {
	RoomID string
	Owner  Host
}

// Request is a pending co-host request as the target's owner sees it.
type Request struct {
	RequestID string
	FromRoom  string
	FromHost  Host
	ToRoom    string
	ExtraInfo string
	ExpiresAt time.Time
}

// Battle is a running battle: the rooms taking part, in the connection's
// order, and their scores.
type Battle struct {
	BattleID string
	Rooms    []string
	EndsAt   time.Time
	Scores   map[string]int64
}

// Outcome is how a request ended; it is the label of
// seatsfu_cohost_requests_total{outcome}.
type Outcome string

const (
	OutcomeAccepted   Outcome = "accepted"
	OutcomeRejected   Outcome = "rejected"
	OutcomeCancelled  Outcome = "cancelled"
	OutcomeTimeout    Outcome = "timeout"
	OutcomeRoomEnded  Outcome = "room_ended"
	OutcomeSuperseded Outcome = "superseded"
)

// Reasons of cohost.requestCancelled.
const (
	CancelledByRequester = "cancelled"
	CancelledTimeout     = "timeout"
	CancelledRoomEnded   = "room_ended"
)

// Reasons of battle.ended; also the label of seatsfu_battles_total{reason}.
const (
	BattleTimeout         = "timeout"
	BattleStopped         = "stopped"
	BattleConnectionEnded = "connection_ended"
)

// Config creates a controller.
type Config struct {
	// MaxRooms is the most rooms one connection joins (MinRooms..MaxRoomsLimit).
	MaxRooms int
	Clock    Clock
	// IDPrefix starts every request and battle id, so ids of one node's run
	// do not repeat another's ("" is fine in tests).
	IDPrefix string
}
