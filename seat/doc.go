// Package seat is the co-guest seat controller: a pure state machine that
// decides every seat rule of the seatsfu contract (CONTRACT §4) and the
// notifications each decision causes (§3.3).
//
// It knows nothing of networks, WebRTC or goroutines. A Room is not safe for
// concurrent use: its owner (sfu.Room) serialises every call behind one mutex.
// Time comes from an injected Clock; deadlines (request timeouts, reconnect
// grace) fire only when the owner calls Tick. NextDeadline tells the owner
// when that must happen, so a timer armed on it fires requests within a few
// milliseconds of expiresAt — well inside the contract's ±250 ms.
//
// Every operation either returns an *Error carrying the contract's reason and
// leaves the state untouched, or applies the change and returns the
// deliveries it caused, each addressed to its audience, so the edge only
// routes them.
package seat
