package client

import (
	"errors"
	"fmt"

	"github.com/seatsfu/seatsfu/signal/proto"
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

// The protocol's error reasons (PROTOCOL.md §3) and JSON-RPC's own codes,
// their codes from signal/proto's one table. Compare with errors.Is.
var (
	ErrParse          = &Error{Code: proto.ReasonParseError.Code(), Message: "parse error"}
	ErrInvalidRequest = &Error{Code: proto.ReasonInvalidRequest.Code(), Message: "invalid request"}
	ErrMethodNotFound = &Error{Code: proto.ReasonMethodNotFound.Code(), Message: "method not found"}
	ErrInvalidParams  = &Error{Code: proto.ReasonInvalidParams.Code(), Reason: string(proto.ReasonInvalidParams), Message: "invalid params"}

	ErrNotJoined        = reason(proto.ReasonNotJoined)
	ErrRoomNotFound     = reason(proto.ReasonRoomNotFound)
	ErrRoomFull         = reason(proto.ReasonRoomFull)
	ErrBanned           = reason(proto.ReasonBanned)
	ErrPermission       = reason(proto.ReasonPermission)
	ErrRequestConflict  = reason(proto.ReasonRequestConflict)
	ErrSeatLocked       = reason(proto.ReasonSeatLocked)
	ErrSeatOccupied     = reason(proto.ReasonSeatOccupied)
	ErrAlreadyApplied   = reason(proto.ReasonAlreadyApplied)
	ErrAlreadySeated    = reason(proto.ReasonAlreadySeated)
	ErrRequestNotFound  = reason(proto.ReasonRequestNotFound)
	ErrSeatsFull        = reason(proto.ReasonSeatsFull)
	ErrNotSeated        = reason(proto.ReasonNotSeated)
	ErrSeatIndexInvalid = reason(proto.ReasonSeatIndexInvalid)
	ErrOwnerCannotLeave = reason(proto.ReasonOwnerCannotLeave)
	ErrRateLimited      = reason(proto.ReasonRateLimited)
	ErrPublishForbidden = reason(proto.ReasonPublishForbidden)
	ErrBadSDP           = reason(proto.ReasonBadSDP)
	ErrUnsupportedCodec = reason(proto.ReasonUnsupportedCodec)
)

func reason(r proto.Reason) *Error { return &Error{Code: r.Code(), Reason: string(r)} }

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
