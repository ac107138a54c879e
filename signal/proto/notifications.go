package proto

// Bodies of the notifications of PROTOCOL.md §3.3; names.go has their
// method names.

// SeatChanged follows any change of seats. Seats is always the full list;
// Joined and Left are never null.
type SeatChanged struct {
	Seats  []Seat      `json:"seats"`
	Joined []SeatJoin  `json:"joined"`
	Left   []SeatLeave `json:"left"`
}

// SeatJoin is one joined entry of seat.changed.
type SeatJoin struct {
	User      User `json:"user"`
	SeatIndex int  `json:"seatIndex"`
}

// SeatLeave is one left entry of seat.changed; Reason is one of the Left*
// reasons.
type SeatLeave struct {
	User      User   `json:"user"`
	SeatIndex int    `json:"seatIndex"`
	Reason    string `json:"reason"`
}

// Why a user left a seat (SeatLeave.Reason).
const (
	LeftLeft         = "left"
	LeftKicked       = "kicked"
	LeftLocked       = "locked"
	LeftDisconnected = "disconnected"
	LeftMoved        = "moved"
	LeftRoomEnded    = "room_ended"
)

// Why a request ended without an answer (the cancelled / no-response
// notifications' reason).
const (
	RequestCancelled     = "cancelled"
	RequestTimeout       = "timeout"
	RequestLeft          = "left"
	RequestAlreadySeated = "alreadySeated"
)

// Why a room ended (RoomEnded.Reason).
const (
	EndedByOwner   = "ended_by_owner"
	OwnerTimeout   = "owner_timeout"
	ServerShutdown = "server_shutdown"
)

// RoomEnded goes to everyone, the owner included; the socket closes after.
type RoomEnded struct {
	Reason string `json:"reason"`
}

// RoomStats is room.stats: the member count, at most once a second.
type RoomStats struct {
	MemberCount int `json:"memberCount"`
}

// RoomMessage is room.message: a text, or a command with its data.
type RoomMessage struct {
	From *User   `json:"from"` // null: a system message from the server API (§11)
	Text *string `json:"text,omitempty"`
	Cmd  *string `json:"cmd,omitempty"`
	Data *string `json:"data,omitempty"`
}

// MemberJoined and MemberLeft go to hosts only.
type MemberJoined struct {
	User User `json:"user"`
}

// MemberLeft's Reason is left, kicked or disconnected.
type MemberLeft struct {
	User   User   `json:"user"`
	Reason string `json:"reason"`
}

// KickedOut tells its target it was removed from the room; the socket
// closes after it.
type KickedOut struct {
	By *User `json:"by"` // null: the server API acted (§11)
}

// --- to hosts ---

type ApplicationReceived struct {
	Request Request `json:"request"`
}

// ApplicationCancelled's Reason is cancelled, timeout, left or
// alreadySeated.
type ApplicationCancelled struct {
	User   User   `json:"user"`
	Reason string `json:"reason"`
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

// InvitationNoResponse's Reason is timeout, alreadySeated or left.
type InvitationNoResponse struct {
	User   User   `json:"user"`
	Reason string `json:"reason"`
}

// --- to the audience member concerned ---

// ApplicationResponded's SeatIndex is set when the application was
// accepted.
type ApplicationResponded struct {
	Accepted  bool `json:"accepted"`
	Host      User `json:"host"`
	SeatIndex *int `json:"seatIndex,omitempty"`
}

// ApplicationNoResponse's Reason is timeout or alreadySeated.
type ApplicationNoResponse struct {
	Reason string `json:"reason"`
}

type InvitationReceived struct {
	Request Request `json:"request"`
}

// InvitationCancelled's Reason is cancelled, timeout, left or
// alreadySeated.
type InvitationCancelled struct {
	Host   User   `json:"host"`
	Reason string `json:"reason"`
}

type SeatKicked struct {
	SeatIndex int   `json:"seatIndex"`
	By        *User `json:"by"` // null: the server API acted (§11)
}
