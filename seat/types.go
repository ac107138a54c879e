package seat

import "time"

// Role is a member's role in a room, fixed by its token.
type Role string

const (
	RoleOwner    Role = "owner"
	RoleAdmin    Role = "admin"
	RoleAudience Role = "audience"
)

// IsHost reports whether the role may manage seats.
func (r Role) IsHost() bool { return r == RoleOwner || r == RoleAdmin }

// Mode says how the audience may come on seat.
type Mode string

const (
	ModeApply Mode = "apply" // audience must apply and be accepted (or invited)
	ModeFree  Mode = "free"  // audience may seat.take directly
)

// Kind is a media kind a seat carries.
type Kind string

const (
	KindAudio Kind = "audio"
	KindVideo Kind = "video"
)

// Device is a seat's microphone or camera state.
type Device string

const (
	DeviceOn            Device = "on"            // forwarded right now
	DeviceOff           Device = "off"           // muted, unpublished, or unlocked but not yet unmuted
	DeviceClosedByAdmin Device = "closedByAdmin" // the seat's lock for this kind is set
)

// RequestKind tells applications from invitations.
type RequestKind string

const (
	KindApply  RequestKind = "apply"
	KindInvite RequestKind = "invite"
)

// Outcome is how a request ended; it is the label of
// seatsfu_seat_requests_total{outcome}.
type Outcome string

const (
	OutcomeAccepted      Outcome = "accepted"
	OutcomeRejected      Outcome = "rejected"
	OutcomeCancelled     Outcome = "cancelled"
	OutcomeTimeout       Outcome = "timeout"
	OutcomeLeft          Outcome = "left"
	OutcomeAlreadySeated Outcome = "already_seated"
	OutcomeRoomEnded     Outcome = "room_ended"
)

// Limits the controller enforces on its inputs.
const (
	MinSeats      = 2
	MaxSeatsLimit = 16
	MaxExtraInfo  = 1024         // bytes of a request's extraInfo
	MaxTimeout    = 24 * 60 * 60 // seconds; a longer request timeout is refused
	NoSeat        = -1           // "any free seat" in requests, "not seated" in lookups
)

// User is a member.
type User struct {
	UserID string
	Name   string
	Avatar string
	Role   Role
}

// Seat is one seat and what it carries.
type Seat struct {
	Index       int
	User        *User
	Locked      bool
	AudioLocked bool
	VideoLocked bool
	Microphone  Device
	Camera      Device
}

// Request is a pending application or invitation.
type Request struct {
	RequestID string
	Kind      RequestKind
	From      User
	To        *User
	SeatIndex int
	ExtraInfo string
	ExpiresAt int64 // unix ms, 0 = never
}

// Info is the room part of a snapshot.
type Info struct {
	RoomID      string
	MaxSeats    int
	SeatMode    Mode
	MemberCount int
	// v2 §11: the room's metadata and when it opened (unix ms).
	Title     string
	Cover     string
	Metadata  string
	CreatedAt int64
}

// Snapshot is room.join's result, as the caller may see it.
type Snapshot struct {
	Room     Info
	Self     User
	Seats    []Seat
	Requests []Request
	// RequestsTotal is set for hosts: every pending request, of which
	// Requests lists the oldest SnapshotRequests (v2).
	RequestsTotal *int
}

// Clock is the controller's only source of time.
type Clock interface{ Now() time.Time }

// Config creates a room. The owner is a member and sits on seat 0 from the
// start.
type Config struct {
	RoomID   string
	MaxSeats int  // MinSeats..MaxSeatsLimit
	Mode     Mode // ModeApply when empty
	Owner    User
	// Grace is how long a disconnected member keeps its seat and requests.
	Grace time.Duration
	// MaxMembers caps membership (owner included); 0 means no cap.
	MaxMembers int
	// MaxPending caps the room's pending requests (ErrRequestsFull beyond);
	// 0 means no cap.
	MaxPending int
	Clock      Clock
	// Meta is the room's title, cover and app metadata (metadata.go).
	Meta Meta
}
