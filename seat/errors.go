package seat

import "fmt"

// Error is a refused operation: the contract's snake_case reason, its
// numeric code and a human message. The state is unchanged when one is
// returned.
type Error struct {
	Code    int
	Reason  string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Reason, e.Message) }

// Is makes errors.Is match on the reason, so callers can compare against the
// sentinels below whatever message a particular refusal carries.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

func newErr(base *Error, format string, args ...any) *Error {
	return &Error{Code: base.Code, Reason: base.Reason, Message: fmt.Sprintf(format, args...)}
}

// The contract's reasons (CONTRACT §3). Compare with errors.Is.
var (
	ErrInvalidParams    = &Error{-32602, "invalid_params", "invalid params"}
	ErrNotJoined        = &Error{100005, "not_joined", "join the room first"}
	ErrRoomNotFound     = &Error{100004, "room_not_found", "no such room"}
	ErrRoomFull         = &Error{100008, "room_full", "the room is full"}
	ErrBanned           = &Error{100016, "banned", "you were removed from this room"}
	ErrPermission       = &Error{100006, "permission_denied", "your role may not do this"}
	ErrRequestConflict  = &Error{100102, "request_conflict", "another pending request involves this user"}
	ErrSeatLocked       = &Error{100200, "seat_locked", "the seat is locked"}
	ErrSeatOccupied     = &Error{100201, "seat_occupied", "the seat is taken"}
	ErrAlreadyApplied   = &Error{100202, "already_applied", "a request of this kind is already pending"}
	ErrAlreadySeated    = &Error{100203, "already_seated", "the user already holds a seat"}
	ErrRequestNotFound  = &Error{100204, "request_not_found", "no such pending request"}
	ErrSeatsFull        = &Error{100205, "seats_full", "no free seat"}
	ErrNotSeated        = &Error{100206, "not_seated", "this needs a seat"}
	ErrSeatIndexInvalid = &Error{100207, "seat_index_invalid", "seat index out of range"}
	ErrOwnerCannotLeave = &Error{100208, "owner_cannot_leave", "the owner must end the room"}
)
