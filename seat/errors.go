package seat

import "fmt"

// Error is a refused operation: the protocol's snake_case reason and a
// human message. The state is unchanged when one is returned. The edge
// gives each reason its numeric code (signal/proto); seat does not know
// the wire.
type Error struct {
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
	return &Error{Reason: base.Reason, Message: fmt.Sprintf(format, args...)}
}

// The reasons the rules refuse with (PROTOCOL.md §3). Compare with
// errors.Is.
var (
	ErrInvalidParams    = &Error{"invalid_params", "invalid params"}
	ErrNotJoined        = &Error{"not_joined", "join the room first"}
	ErrRoomNotFound     = &Error{"room_not_found", "no such room"}
	ErrRoomFull         = &Error{"room_full", "the room is full"}
	ErrBanned           = &Error{"banned", "you were removed from this room"}
	ErrPermission       = &Error{"permission_denied", "your role may not do this"}
	ErrRequestConflict  = &Error{"request_conflict", "another pending request involves this user"}
	ErrSeatLocked       = &Error{"seat_locked", "the seat is locked"}
	ErrSeatOccupied     = &Error{"seat_occupied", "the seat is taken"}
	ErrAlreadyApplied   = &Error{"already_applied", "a request of this kind is already pending"}
	ErrAlreadySeated    = &Error{"already_seated", "the user already holds a seat"}
	ErrRequestNotFound  = &Error{"request_not_found", "no such pending request"}
	ErrSeatsFull        = &Error{"seats_full", "no free seat"}
	ErrNotSeated        = &Error{"not_seated", "this needs a seat"}
	ErrSeatIndexInvalid = &Error{"seat_index_invalid", "seat index out of range"}
	ErrOwnerCannotLeave = &Error{"owner_cannot_leave", "the owner must end the room"}
)
