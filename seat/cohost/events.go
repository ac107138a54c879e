package cohost

import "time"

// Audience says who a delivery goes to.
type Audience int

const (
	Owner    Audience = iota // the owner of Rooms[0]
	Everyone                 // every member of each of Rooms
	Internal                 // nobody: bookkeeping (metrics)
)

// Delivery is one event addressed to its audience.
type Delivery struct {
	To    Audience
	Rooms []string
	Event Event
}

// Event is a notification or an Internal record.
type Event interface{ event() }

// RequestReceived goes to the target's owner.
type RequestReceived struct{ Request Request }

// RequestCancelled goes to whichever side did not cause the end (both on a
// timeout or a supersession).
type RequestCancelled struct {
	RequestID string
	Reason    string // CancelledByRequester, CancelledTimeout, CancelledRoomEnded
}

// RequestResponded goes to the requester's owner.
type RequestResponded struct {
	RequestID string
	Accepted  bool
}

// Changed goes to everyone in a room whose connection changed: the
// connection's rooms as that room now sees them (empty: none).
type Changed struct{ Rooms []Member }

// BattleStarted, BattleScores and BattleEnded go to everyone in every room
// of the battle's connection.
type BattleStarted struct {
	BattleID string
	Rooms    []string
	EndsAt   time.Time
}

type BattleScores struct {
	BattleID string
	Scores   map[string]int64
}

type BattleEnded struct {
	BattleID string
	Scores   map[string]int64
	Winners  []string
	Reason   string // BattleTimeout, BattleStopped, BattleConnectionEnded
}

// RequestEnded records that a request ended, exactly once per request.
type RequestEnded struct {
	Request Request
	Outcome Outcome
}

// ConnectionStarted records a new connection of two rooms (the
// cohost.started webhook of PROTOCOL.md §11). Internal.
type ConnectionStarted struct{ Rooms []string }

// ConnectionEnded records that a connection ended: its rooms just before,
// and why — ConnectionLeft (an owner left) or ConnectionRoomEnded (a room
// ended) (the cohost.ended webhook). Internal.
type ConnectionEnded struct {
	Rooms  []string
	Reason string
}

// Reasons of ConnectionEnded.
const (
	ConnectionLeft      = "left"
	ConnectionRoomEnded = "room_ended"
)

func (RequestReceived) event()   {}
func (RequestCancelled) event()  {}
func (RequestResponded) event()  {}
func (Changed) event()           {}
func (BattleStarted) event()     {}
func (BattleScores) event()      {}
func (BattleEnded) event()       {}
func (RequestEnded) event()      {}
func (ConnectionStarted) event() {}
func (ConnectionEnded) event()   {}
