package cohost

import "fmt"

// Error is a refused operation: the contract's snake_case reason and a human
// message. The state is unchanged when one is returned. The edge maps the
// reason to its numeric code.
type Error struct {
	Reason  string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Reason, e.Message) }

// Is makes errors.Is match on the reason.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

func newErr(base *Error, format string, args ...any) *Error {
	return &Error{Reason: base.Reason, Message: fmt.Sprintf(format, args...)}
}

// The reasons of PROTOCOL.md §10. Compare with errors.Is.
var (
	ErrInvalidParams    = &Error{"invalid_params", "invalid params"}
	ErrRequestConflict  = &Error{"request_conflict", "a pending request already links these rooms"}
	ErrRequestNotFound  = &Error{"request_not_found", "no such pending request"}
	ErrCohostSelf       = &Error{"cohost_self", "a room cannot co-host with itself"}
	ErrCohostBusy       = &Error{"cohost_busy", "the room is in another connection, or the connection is full"}
	ErrAlreadyConnected = &Error{"already_connected", "the rooms are already connected"}
	ErrNotConnected     = &Error{"not_connected", "the room is in no connection"}
	ErrBattleRunning    = &Error{"battle_running", "a battle is already running"}
	ErrBattleNotRunning = &Error{"battle_not_running", "no battle is running"}
	// The score entry point's refusals (the server API answers 404).
	ErrBattleNotFound  = &Error{"battle_not_found", "no such running battle"}
	ErrRoomNotInBattle = &Error{"room_not_in_battle", "the room takes no part in this battle"}
)
