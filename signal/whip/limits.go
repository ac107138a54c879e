package whip

import (
	"errors"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// The node's limits as WHIP and WHEP answer them (PROTOCOL.md §3.4): a
// node over a cap answers 503 with Retry-After, a user over its own cap 429.

// Admit admits a WHEP session of user in room against the node's limits
// and returns what gives its place back once the session ends. Its errors
// are ErrTooManyPlayers (429) or an overloaded *seat.Error (503).
type Admit func(room, user string) (release func(), err error)

// ErrTooManyPlayers refuses a WHEP POST of a user who already has its
// maximum of live WHEP sessions in the room.
var ErrTooManyPlayers = errors.New("too many WHEP sessions for this user")

// retryAfter is the Retry-After of a 503 or a 429 that names no better
// time, in seconds.
const retryAfter = "5"

// overloaded reports whether err is the node's "over a limit" refusal.
func overloaded(err error) bool {
	var se *seat.Error
	return errors.As(err, &se) && se.Reason == string(proto.ReasonOverloaded)
}

// admit runs cfg.Admit when set.
func (s *Server) admit(room, user string) (func(), error) {
	if s.cfg.Admit == nil {
		return func() {}, nil
	}
	return s.cfg.Admit(room, user)
}
