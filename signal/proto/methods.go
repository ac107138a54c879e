package proto

// Params and results of the methods of PROTOCOL.md §3.2. Optional members
// are pointers (absent ≠ zero) or omitempty; the server decodes strictly
// (no unknown member) and checks the limits; the SDK sends the same types.

// JoinParams is room.join's. Create opens the room (owner only).
type JoinParams struct {
	Create *CreateParams `json:"create,omitempty"`
}

// CreateParams opens a room; absent members take the server's defaults.
type CreateParams struct {
	MaxSeats *int     `json:"maxSeats,omitempty"` // 2..16
	SeatMode SeatMode `json:"seatMode,omitempty"`
	// §11: the room's metadata.
	Title    *string `json:"title,omitempty"`
	Cover    *string `json:"cover,omitempty"`
	Metadata *string `json:"metadata,omitempty"`
}

// UserParams names the member a host acts on (room.kickOut,
// seat.acceptApplication, seat.rejectApplication, seat.cancelInvitation,
// seat.kick).
type UserParams struct {
	UserID string `json:"userId"`
}

// InviterParams names the host whose invitation is answered.
type InviterParams struct {
	InviterID string `json:"inviterId"`
}

// SeatParams names a seat (seat.take, seat.move).
type SeatParams struct {
	SeatIndex *int `json:"seatIndex"`
}

// RequestParams is seat.apply's: SeatIndex NoSeat asks for any free seat;
// Timeout is whole seconds, 0 for none.
type RequestParams struct {
	SeatIndex *int   `json:"seatIndex"`
	Timeout   int    `json:"timeout"`
	ExtraInfo string `json:"extraInfo,omitempty"`
}

// InviteParams is seat.invite's.
type InviteParams struct {
	UserID string `json:"userId"`
	RequestParams
}

// LockParams is seat.lock's; nil switches are left as they are.
type LockParams struct {
	SeatIndex *int  `json:"seatIndex"`
	LockSeat  *bool `json:"lockSeat,omitempty"`
	LockAudio *bool `json:"lockAudio,omitempty"`
	LockVideo *bool `json:"lockVideo,omitempty"`
}

// MuteParams is media.setMuted's.
type MuteParams struct {
	Kind  MediaKind `json:"kind"`
	Muted *bool     `json:"muted"`
}

// MembersParams is room.members's: Cursor "" starts, Limit is 1..100
// (default 100).
type MembersParams struct {
	Cursor string `json:"cursor,omitempty"`
	Limit  *int   `json:"limit,omitempty"`
}

// MessageParams is room.sendMessage's: a text, or a command with its data.
type MessageParams struct {
	Text *string `json:"text,omitempty"`
	Cmd  *string `json:"cmd,omitempty"`
	Data *string `json:"data,omitempty"`
}

// SDPParams carries an offer (rtc.publish, rtc.subscribe).
type SDPParams struct {
	SDP string `json:"sdp"`
}

// PeerConnection names one of a client's two peer connections.
type PeerConnection string

const (
	PCPublish   PeerConnection = "publish"
	PCSubscribe PeerConnection = "subscribe"
)

// Candidate is an RTCIceCandidateInit; its members match Pion's
// webrtc.ICECandidateInit one for one.
type Candidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// CandidateParams is rtc.candidate's.
type CandidateParams struct {
	PC        PeerConnection `json:"pc"`
	Candidate *Candidate     `json:"candidate"`
}

// RequestIDResult answers seat.apply and seat.invite.
type RequestIDResult struct {
	RequestID string `json:"requestId"`
}

// SeatIndexResult answers the methods that seat someone.
type SeatIndexResult struct {
	SeatIndex int `json:"seatIndex"`
}

// MembersResult is one page of room.members; NextCursor is "" at the end.
type MembersResult struct {
	Members    []User `json:"members"`
	NextCursor string `json:"nextCursor"`
}

// SDPResult answers rtc.publish.
type SDPResult struct {
	SDP string `json:"sdp"`
}

// SubscribeResult answers rtc.subscribe.
type SubscribeResult struct {
	SDP   string `json:"sdp"`
	Slots []Slot `json:"slots"`
}
