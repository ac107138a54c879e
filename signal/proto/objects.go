package proto

// The contract's objects (PROTOCOL.md §3.1), as the wire carries them.
// They mirror the seat controller's domain types field for field; the edge
// converts (signal/wire.go), so the rule engine knows nothing of JSON.

// Role is a member's role in a room, fixed by its token (PROTOCOL.md §2).
type Role string

const (
	RoleOwner    Role = "owner"
	RoleAdmin    Role = "admin"
	RoleAudience Role = "audience"
)

// IsHost reports whether the role manages seats: the owner and the admins.
func (r Role) IsHost() bool { return r == RoleOwner || r == RoleAdmin }

// SeatMode says how the audience comes on seat.
type SeatMode string

const (
	ModeApply SeatMode = "apply" // apply and be accepted (or invited)
	ModeFree  SeatMode = "free"  // seat.take directly
)

// MediaKind is a kind of media a seat carries.
type MediaKind string

const (
	KindAudio MediaKind = "audio"
	KindVideo MediaKind = "video"
)

// Device is a seat's microphone or camera state.
type Device string

const (
	DeviceOn            Device = "on"
	DeviceOff           Device = "off"
	DeviceClosedByAdmin Device = "closedByAdmin"
)

// RequestKind tells applications from invitations.
type RequestKind string

const (
	KindApply  RequestKind = "apply"
	KindInvite RequestKind = "invite"
)

// NoSeat is "any free seat" in seat.apply and seat.invite (and "not
// seated" where the SDK reports a seat index).
const NoSeat = -1

// User is a member.
type User struct {
	UserID string `json:"userId"`
	Name   string `json:"name"`
	Avatar string `json:"avatar"`
	Role   Role   `json:"role"`
}

// Seat is one seat; User is null when it is free.
type Seat struct {
	Index       int    `json:"index"`
	User        *User  `json:"user"`
	Locked      bool   `json:"locked"`
	AudioLocked bool   `json:"audioLocked"`
	VideoLocked bool   `json:"videoLocked"`
	Microphone  Device `json:"microphone"`
	Camera      Device `json:"camera"`
}

// Request is a pending application or invitation.
type Request struct {
	RequestID string      `json:"requestId"`
	Kind      RequestKind `json:"kind"`
	From      User        `json:"from"`
	To        *User       `json:"to"`
	SeatIndex int         `json:"seatIndex"`
	ExtraInfo string      `json:"extraInfo"`
	ExpiresAt int64       `json:"expiresAt"` // unix ms, 0 = never
}

// RoomInfo is the room part of a snapshot.
type RoomInfo struct {
	RoomID      string   `json:"roomId"`
	MaxSeats    int      `json:"maxSeats"`
	SeatMode    SeatMode `json:"seatMode"`
	MemberCount int      `json:"memberCount"`
	// §11: the room's metadata and when it opened (unix ms).
	Title     string `json:"title"`
	Cover     string `json:"cover"`
	Metadata  string `json:"metadata"`
	CreatedAt int64  `json:"createdAt"`
}

// Snapshot is room.join's result: the room as the caller may see it
// (requests are filtered to what the caller may know).
type Snapshot struct {
	Room     RoomInfo  `json:"room"`
	Self     User      `json:"self"`
	Seats    []Seat    `json:"seats"`
	Requests []Request `json:"requests"`
	// RequestsTotal is set for the owner and admins: every pending request,
	// of which Requests lists the oldest SnapshotRequests (v2, limits.go).
	RequestsTotal *int `json:"requestsTotal,omitempty"`
	// RTC is room.join's "rtc" member: the ICE servers to use (PROTOCOL.md
	// §9). Only room.join's answer carries it.
	RTC *RTCInfo `json:"rtc,omitempty"`
}

// Slot is one slot of a subscription: the m-line mid that carries one kind
// of seat SeatIndex's media, or (CohostIndex k ≥ 1, SeatIndex -1) of the
// owner of the k-th other room of the co-host connection (PROTOCOL.md §10).
type Slot struct {
	Mid         string `json:"mid"`
	Kind        string `json:"kind"`
	SeatIndex   int    `json:"seatIndex"`
	CohostIndex int    `json:"cohostIndex"`
}
