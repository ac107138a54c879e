package proto

// Rooms as data (PROTOCOL.md §11): room metadata, runtime roles and
// moderation, the server API's bodies and the webhooks' data.

// Limits of room metadata, in bytes except Title (characters).
const (
	MaxTitle    = 128
	MaxCover    = 512
	MaxMetadata = 4 << 10
)

// RoomUpdateParams is room.update's params, and PATCH /v1/api/rooms/{room}'s
// body: the fields present change, an empty string clears one.
type RoomUpdateParams struct {
	Title    *string `json:"title,omitempty"`
	Cover    *string `json:"cover,omitempty"`
	Metadata *string `json:"metadata,omitempty"`
}

// RoomUpdated is room.updated, to everyone: the metadata as it now is.
type RoomUpdated struct {
	Title    string `json:"title"`
	Cover    string `json:"cover"`
	Metadata string `json:"metadata"`
}

// RoleChanged is room.roleChanged, to everyone: the member with its new role.
type RoleChanged struct {
	User User `json:"user"`
}

// --- the server API's bodies (/v1/api/…) ---

// APIRoom is the API's RoomInfo: one live room as a backend sees it.
type APIRoom struct {
	RoomID      string   `json:"roomId"`
	Title       string   `json:"title"`
	Cover       string   `json:"cover"`
	Metadata    string   `json:"metadata"`
	CreatedAt   int64    `json:"createdAt"` // unix ms
	Owner       User     `json:"owner"`
	MemberCount int      `json:"memberCount"`
	Seats       []Seat   `json:"seats"`
	Cohost      []string `json:"cohost"` // the co-host connection's other rooms
}

// APIRoomList is GET /v1/api/rooms.
type APIRoomList struct {
	Rooms      []APIRoom `json:"rooms"`
	NextCursor string    `json:"nextCursor"` // "" at the end
}

// APIMemberList is GET /v1/api/rooms/{room}/members.
type APIMemberList struct {
	Members    []User `json:"members"`
	NextCursor string `json:"nextCursor"`
}

// APIKickOut is POST …/members/{user}/kickOut; Ban defaults to true.
type APIKickOut struct {
	Ban *bool `json:"ban,omitempty"`
}

// APIRole is POST …/members/{user}/role: "admin" or "audience".
type APIRole struct {
	Role Role `json:"role"`
}

// APIChatMute is POST …/members/{user}/chatMute.
type APIChatMute struct {
	Muted *bool `json:"muted"`
}

// APISeatLock is POST …/seats/{index}/lock, as seat.lock: omitted fields
// stay as they are.
type APISeatLock struct {
	LockSeat  *bool `json:"lockSeat,omitempty"`
	LockAudio *bool `json:"lockAudio,omitempty"`
	LockVideo *bool `json:"lockVideo,omitempty"`
}

// APIMessage is POST …/messages: a text, or a command with its data.
type APIMessage struct {
	Text *string `json:"text,omitempty"`
	Cmd  *string `json:"cmd,omitempty"`
	Data *string `json:"data,omitempty"`
}

// APIScore is POST /v1/api/battles/{battleId}/score.
type APIScore struct {
	RoomID string `json:"roomId"`
	Delta  *int64 `json:"delta"`
}

// APIError is every error the server API answers.
type APIError struct {
	Error APIErrorBody `json:"error"`
}

type APIErrorBody struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Reasons only the server API answers (HTTP, not JSON-RPC).
const (
	APIReasonUnauthorized   = "unauthorized"     // 401: no or a bad service token
	APIReasonForbidden      = "forbidden"        // 403: a user's token
	APIReasonNotFound       = "not_found"        // 404: no such route, user, ban or battle
	APIReasonNotBanned      = "not_banned"       // 404: DELETE of a ban that does not exist
	APIReasonBattleNotFound = "battle_not_found" // 404
	APIReasonNotInBattle    = "room_not_in_battle"
)

// --- webhook data (PROTOCOL.md §11) ---

type WebhookRoomStarted struct {
	Owner User   `json:"owner"`
	Title string `json:"title"`
}

type WebhookRoomEnded struct {
	Reason string `json:"reason"`
}

type WebhookMember struct {
	User User `json:"user"`
}

// WebhookMemberLeft's Reason is left, kicked, disconnected or replaced.
type WebhookMemberLeft struct {
	User   User   `json:"user"`
	Reason string `json:"reason"`
}

type WebhookSeatTaken struct {
	User      User `json:"user"`
	SeatIndex int  `json:"seatIndex"`
}

type WebhookSeatLeft struct {
	User      User   `json:"user"`
	SeatIndex int    `json:"seatIndex"`
	Reason    string `json:"reason"`
}

// WebhookRequestEnded's Outcome is one of seat_requests_total's outcomes.
type WebhookRequestEnded struct {
	Request Request `json:"request"`
	Outcome string  `json:"outcome"`
}

type WebhookCohostStarted struct {
	Rooms []string `json:"rooms"`
}

type WebhookCohostEnded struct {
	Rooms  []string `json:"rooms"`
	Reason string   `json:"reason"` // left, room_ended
}

type WebhookBattleEnded struct {
	BattleID string           `json:"battleId"`
	Scores   map[string]int64 `json:"scores"`
	Winners  []string         `json:"winners"`
	Reason   string           `json:"reason"`
}
