package seat

// Audience says who a delivery goes to.
type Audience int

const (
	Everyone Audience = iota // every member of the room
	Hosts                    // the owner and the admins
	OneUser                  // Delivery.UserID only
	Internal                 // nobody: bookkeeping for the room's owner (metrics, media)
)

// Delivery is one event addressed to its audience. Except, when set, is a
// user left out of an Everyone/Hosts delivery (the host who answered first,
// for instance).
type Delivery struct {
	To     Audience
	UserID string
	Except string
	Event  Event
}

// Event is something a member learns: one of the types below, or one an
// edge adds itself (a chat message, for instance). The edge gives each its
// wire form; seat knows nothing of the wire.
type Event any

// SeatJoin and SeatLeave are the joined/left entries of seat.changed.
type SeatJoin struct {
	User      User
	SeatIndex int
}

type SeatLeave struct {
	User      User
	SeatIndex int
	Reason    string // left, kicked, locked, disconnected, moved, room_ended
}

// Seat leave reasons.
const (
	LeftLeft         = "left"
	LeftKicked       = "kicked"
	LeftLocked       = "locked"
	LeftDisconnected = "disconnected"
	LeftMoved        = "moved"
	LeftRoomEnded    = "room_ended"
)

// Cancel / no-response reasons of the request notifications.
const (
	ReasonCancelled     = "cancelled"
	ReasonTimeout       = "timeout"
	ReasonLeft          = "left"
	ReasonAlreadySeated = "alreadySeated"
)

// Room end reasons.
const (
	EndedByOwner   = "ended_by_owner"
	OwnerTimeout   = "owner_timeout"
	ServerShutdown = "server_shutdown"
	EndedByService = "ended_by_service" // v2 §11: the server API ended it
)

// SeatChanged goes to everyone after any change of seats (occupants, locks,
// microphone/camera). Seats is always the full list.
type SeatChanged struct {
	Seats  []Seat
	Joined []SeatJoin
	Left   []SeatLeave
}

// RoomEnded goes to everyone, the owner included.
type RoomEnded struct {
	Reason string
}

// MemberJoined and MemberLeft go to hosts only.
type MemberJoined struct {
	User User
}

type MemberLeft struct {
	User   User
	Reason string // left, kicked, disconnected
}

// --- to hosts ---

type ApplicationReceived struct {
	Request Request
}

type ApplicationCancelled struct {
	User   User
	Reason string // cancelled, timeout, left, alreadySeated
}

type ApplicationProcessedByOtherHost struct {
	User     User
	Host     User
	Accepted bool
}

type InvitationResponded struct {
	User     User
	Accepted bool
}

type InvitationNoResponse struct {
	User   User
	Reason string // timeout, alreadySeated, left
}

// --- to the audience member concerned ---

type ApplicationResponded struct {
	Accepted  bool
	Host      User
	SeatIndex *int
}

type ApplicationNoResponse struct {
	Reason string // timeout, alreadySeated
}

type InvitationReceived struct {
	Request Request
}

type InvitationCancelled struct {
	Host   User
	Reason string // cancelled, timeout, left, alreadySeated
}

type SeatKicked struct {
	SeatIndex int
	By        *User // nil: the server API acted (service.go)
}

// KickedOut tells its target it was removed from the room; the edge closes
// the target's socket after sending it.
type KickedOut struct {
	By *User // nil: the server API acted (service.go)
}

// --- internal ---

// RequestEnded records that a request ended, exactly once per request. It is
// Internal: the edge counts it in seatsfu_seat_requests_total.
type RequestEnded struct {
	Request Request
	Outcome Outcome
}
