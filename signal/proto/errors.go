package proto

// Reason is an error's snake_case reason, the part of an error clients act on
// (PROTOCOL.md §3). Each has one numeric code; Code gives it.
type Reason string

// JSON-RPC 2.0's own errors, for frames that never reach a method.
const (
	ReasonParseError     Reason = "parse_error"
	ReasonInvalidRequest Reason = "invalid_request"
	ReasonMethodNotFound Reason = "method_not_found"
	ReasonInvalidParams  Reason = "invalid_params"
	ReasonInternal       Reason = "internal_error"
)

// The application's reasons (PROTOCOL.md §3, §9–§11).
const (
	ReasonNotJoined        Reason = "not_joined"
	ReasonRoomNotFound     Reason = "room_not_found"
	ReasonRoomFull         Reason = "room_full"
	ReasonBanned           Reason = "banned"
	ReasonPermission       Reason = "permission_denied"
	ReasonChatMuted        Reason = "chat_muted"
	ReasonTokenInvalid     Reason = "token_invalid"
	ReasonRequestConflict  Reason = "request_conflict"
	ReasonRequestsFull     Reason = "requests_full"
	ReasonSeatLocked       Reason = "seat_locked"
	ReasonSeatOccupied     Reason = "seat_occupied"
	ReasonAlreadyApplied   Reason = "already_applied"
	ReasonAlreadySeated    Reason = "already_seated"
	ReasonRequestNotFound  Reason = "request_not_found"
	ReasonSeatsFull        Reason = "seats_full"
	ReasonNotSeated        Reason = "not_seated"
	ReasonSeatIndexInvalid Reason = "seat_index_invalid"
	ReasonOwnerCannotLeave Reason = "owner_cannot_leave"
	ReasonRateLimited      Reason = "rate_limited"
	ReasonOverloaded       Reason = "overloaded"
	ReasonPublishForbidden Reason = "publish_forbidden"
	ReasonBadSDP           Reason = "bad_sdp"
	ReasonUnsupportedCodec Reason = "unsupported_codec"
	ReasonCohostSelf       Reason = "cohost_self"
	ReasonCohostBusy       Reason = "cohost_busy"
	ReasonAlreadyConnected Reason = "already_connected"
	ReasonNotConnected     Reason = "not_connected"
	ReasonBattleRunning    Reason = "battle_running"
	ReasonBattleNotRunning Reason = "battle_not_running"
)

// codes is the one table of reason → code.
var codes = map[Reason]int{
	ReasonParseError:     -32700,
	ReasonInvalidRequest: -32600,
	ReasonMethodNotFound: -32601,
	ReasonInvalidParams:  -32602,
	ReasonInternal:       -32603,

	ReasonRoomNotFound:     100004,
	ReasonNotJoined:        100005,
	ReasonPermission:       100006,
	ReasonRoomFull:         100008,
	ReasonChatMuted:        100009,
	ReasonTokenInvalid:     100010,
	ReasonBanned:           100016,
	ReasonRequestConflict:  100102,
	ReasonRequestsFull:     100103,
	ReasonSeatLocked:       100200,
	ReasonSeatOccupied:     100201,
	ReasonAlreadyApplied:   100202,
	ReasonAlreadySeated:    100203,
	ReasonRequestNotFound:  100204,
	ReasonSeatsFull:        100205,
	ReasonNotSeated:        100206,
	ReasonSeatIndexInvalid: 100207,
	ReasonOwnerCannotLeave: 100208,
	ReasonRateLimited:      100300,
	ReasonOverloaded:       100301,
	ReasonPublishForbidden: 100400,
	ReasonBadSDP:           100401,
	ReasonUnsupportedCodec: 100402,
	ReasonCohostSelf:       100500,
	ReasonCohostBusy:       100501,
	ReasonAlreadyConnected: 100502,
	ReasonNotConnected:     100503,
	ReasonBattleRunning:    100504,
	ReasonBattleNotRunning: 100505,
}

// Code is the reason's numeric code; an unknown reason is an internal error.
func (r Reason) Code() int {
	if c, ok := codes[r]; ok {
		return c
	}
	return codes[ReasonInternal]
}

// Reasons lists every reason the protocol defines (for tests and the
// JavaScript SDK's constants).
func Reasons() []Reason {
	out := make([]Reason, 0, len(codes))
	for r := range codes {
		out = append(out, r)
	}
	return out
}
