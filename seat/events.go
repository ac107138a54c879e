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

// Event is a notification. Method is its JSON-RPC method name; the struct's
// JSON form is its params.
type Event interface{ Method() string }

// SeatJoin and SeatLeave are the joined/left entries of seat.changed.
type SeatJoin struct {
	User      User `json:"user"`
	SeatIndex int  `json:"seatIndex"`
}

type SeatLeave struct {
	User      User   `json:"user"`
	SeatIndex int    `json:"seatIndex"`
	Reason    string `json:"reason"` // left, kicked, locked, disconnected, moved, room_ended
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
	Seats  []Seat      `json:"seats"`
	Joined []SeatJoin  `json:"joined"`
	Left   []SeatLeave `json:"left"`
}

// RoomEnded goes to everyone, the owner included.
type RoomEnded struct {
	Reason string `json:"reason"`
}

// MemberJoined and MemberLeft go to hosts only.
type MemberJoined struct {
	User User `json:"user"`
}

type MemberLeft struct {
	User   User   `json:"user"`
	Reason string `json:"reason"` // left, kicked, disconnected
}

// --- to hosts ---

type ApplicationReceived struct {
	Request Request `json:"request"`
}

type ApplicationCancelled struct {
	User   User   `json:"user"`
	Reason string `json:"reason"` // cancelled, timeout, left, alreadySeated
}

type ApplicationProcessedByOtherHost struct {
	User     User `json:"user"`
	Host     User `json:"host"`
	Accepted bool `json:"accepted"`
}

type InvitationResponded struct {
	User     User `json:"user"`
	Accepted bool `json:"accepted"`
}

type InvitationNoResponse struct {
	User   User   `json:"user"`
	Reason string `json:"reason"` // timeout, alreadySeated, left
}

// --- to the audience member concerned ---

type ApplicationResponded struct {
	Accepted  bool `json:"accepted"`
	Host      User `json:"host"`
	SeatIndex *int `json:"seatIndex,omitempty"`
}

type ApplicationNoResponse struct {
	Reason string `json:"reason"` // timeout, alreadySeated
}

type InvitationReceived struct {
	Request Request `json:"request"`
}

type InvitationCancelled struct {
	Host   User   `json:"host"`
	Reason string `json:"reason"` // cancelled, timeout, left, alreadySeated
}

type SeatKicked struct {
	SeatIndex int  `json:"seatIndex"`
	By        User `json:"by"`
	// ByService: the app's backend acted (the wire shows by: null).
	ByService bool `json:"-"`
}

// KickedOut tells its target it was removed from the room; the edge closes
// the target's socket after sending it.
type KickedOut struct {
	By User `json:"by"`
	// ByService: the app's backend acted (the wire shows by: null).
	ByService bool `json:"-"`
}

// --- internal ---

// RequestEnded records that a request ended, exactly once per request. It is
// Internal: the edge counts it in seatsfu_seat_requests_total.
type RequestEnded struct {
	Request Request
	Outcome Outcome
}

func (SeatChanged) Method() string                     { return "seat.changed" }
func (RoomEnded) Method() string                       { return "room.ended" }
func (MemberJoined) Method() string                    { return "room.memberJoined" }
func (MemberLeft) Method() string                      { return "room.memberLeft" }
func (ApplicationReceived) Method() string             { return "seat.applicationReceived" }
func (ApplicationCancelled) Method() string            { return "seat.applicationCancelled" }
func (ApplicationProcessedByOtherHost) Method() string { return "seat.applicationProcessedByOtherHost" }
func (InvitationResponded) Method() string             { return "seat.invitationResponded" }
func (InvitationNoResponse) Method() string            { return "seat.invitationNoResponse" }
func (ApplicationResponded) Method() string            { return "seat.applicationResponded" }
func (ApplicationNoResponse) Method() string           { return "seat.applicationNoResponse" }
func (InvitationReceived) Method() string              { return "seat.invitationReceived" }
func (InvitationCancelled) Method() string             { return "seat.invitationCancelled" }
func (SeatKicked) Method() string                      { return "seat.kicked" }
func (KickedOut) Method() string                       { return "room.kickedOut" }
func (RequestEnded) Method() string                    { return "" }
