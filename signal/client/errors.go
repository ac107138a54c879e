package client

import (
	"errors"
	"fmt"
)

// Error is an error answer from the server: the JSON-RPC code, the
// contract's snake_case reason (data.reason) and the human message.
// errors.Is matches two Errors on their reason, so callers compare against
// the sentinels below whatever the message says.
type Error struct {
	Code    int
	Reason  string
	Message string
}

func (e *Error) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("rpc error %d: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("%s (%d): %s", e.Reason, e.Code, e.Message)
}

// Is matches on the reason. A target without a reason (the JSON-RPC
// protocol sentinels ErrParse, ErrInvalidRequest, ErrMethodNotFound) matches
// on the code, whatever reason the server attached.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	if t.Reason == "" {
		return t.Code == e.Code
	}
	return t.Reason == e.Reason
}

// The contract's error reasons (CONTRACT §3) and JSON-RPC's own codes.
// Compare with errors.Is.
var (
	ErrParse          = &Error{Code: -32700, Message: "parse error"}
	ErrInvalidRequest = &Error{Code: -32600, Message: "invalid request"}
	ErrMethodNotFound = &Error{Code: -32601, Message: "method not found"}
	ErrInvalidParams  = &Error{Code: -32602, Reason: "invalid_params", Message: "invalid params"}

	ErrNotJoined        = &Error{Code: 100005, Reason: "not_joined"}
	ErrRoomNotFound     = &Error{Code: 100004, Reason: "room_not_found"}
	ErrRoomFull         = &Error{Code: 100008, Reason: "room_full"}
	ErrBanned           = &Error{Code: 100016, Reason: "banned"}
	ErrPermission       = &Error{Code: 100006, Reason: "permission_denied"}
	ErrRequestConflict  = &Error{Code: 100102, Reason: "request_conflict"}
	ErrSeatLocked       = &Error{Code: 100200, Reason: "seat_locked"}
	ErrSeatOccupied     = &Error{Code: 100201, Reason: "seat_occupied"}
	ErrAlreadyApplied   = &Error{Code: 100202, Reason: "already_applied"}
	ErrAlreadySeated    = &Error{Code: 100203, Reason: "already_seated"}
	ErrRequestNotFound  = &Error{Code: 100204, Reason: "request_not_found"}
	ErrSeatsFull        = &Error{Code: 100205, Reason: "seats_full"}
	ErrNotSeated        = &Error{Code: 100206, Reason: "not_seated"}
	ErrSeatIndexInvalid = &Error{Code: 100207, Reason: "seat_index_invalid"}
	ErrOwnerCannotLeave = &Error{Code: 100208, Reason: "owner_cannot_leave"}
	ErrRateLimited      = &Error{Code: 100300, Reason: "rate_limited"}
	ErrPublishForbidden = &Error{Code: 100400, Reason: "publish_forbidden"}
	ErrBadSDP           = &Error{Code: 100401, Reason: "bad_sdp"}
	ErrUnsupportedCodec = &Error{Code: 100402, Reason: "unsupported_codec"}
)

// Why a client stopped. Err returns one of these (possibly wrapped), or the
// transport error that ended the socket.
var (
	// ErrClosed: Close was called.
	ErrClosed = errors.New("client: closed")
	// ErrRoomEnded: the server sent room.ended and closed the socket.
	ErrRoomEnded = errors.New("client: room ended")
	// ErrKickedOut: the server sent room.kickedOut and closed the socket.
	ErrKickedOut = errors.New("client: kicked out of the room")
	// ErrSessionReplaced: the same user opened another signalling socket.
	ErrSessionReplaced = errors.New("client: session replaced by a newer connection")
	// ErrSlowListener: listeners fell so far behind that the notification
	// queue overflowed (see the package comment).
	ErrSlowListener = errors.New("client: listeners too slow, notification queue overflowed")
	// ErrConnectionLost: the socket ended without any of the reasons above.
	ErrConnectionLost = errors.New("client: connection lost")
)

// DialError is a refused WebSocket upgrade; StatusCode is the HTTP status
// (401 for a bad token).
type DialError struct {
	StatusCode int
	Err        error
}

func (e *DialError) Error() string {
	return fmt.Sprintf("client: dial refused with HTTP %d: %v", e.StatusCode, e.Err)
}

func (e *DialError) Unwrap() error { return e.Err }
