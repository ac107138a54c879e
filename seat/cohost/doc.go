// Package cohost is the cross-room co-host controller: a pure state machine
// that decides every rule of co-hosting and battles (PROTOCOL.md §10) and
// the notifications each decision causes.
//
// It sits beside the seat controller and imports nothing of the project: it
// speaks of rooms by id and of their owners as Hosts. A Controller is not
// safe for concurrent use: its owner (the signalling edge) serialises every
// call behind one mutex. Time comes from an injected Clock; deadlines
// (request timeouts, battle ends, the coalesced score notifications) fire
// only when the owner calls Tick, and NextDeadline tells it when.
//
// Every operation either returns an *Error carrying the contract's reason and
// leaves the state untouched, or applies the change and returns the
// deliveries it caused: to one room's owner, to everyone in some rooms, or
// Internal (bookkeeping for metrics and media).
//
// # Decisions where the contract leaves room
//
//   - Requests. A room may have many requests out and in, but at most one
//     pending request links two rooms (either direction, else
//     request_conflict): two owners requesting each other at the same moment
//     end with one request, hence one connection. Only the requesting room
//     cancels; only the target accepts or rejects; anyone else gets
//     request_not_found. Timeouts are 1..60 s (MaxTimeout), extraInfo at most
//     MaxExtraInfo bytes.
//   - Accepting joins the two rooms: both free → a new connection [requester,
//     target]; one of them connected → the other joins that connection at
//     its end. Both connected elsewhere, or the connection full, is
//     cohost_busy and the request stays pending (as a seat accept that fails).
//     A pending request whose two rooms end up in one connection some other
//     way ends at once: RequestCancelled{cancelled} to both owners, outcome
//     "superseded".
//   - Every request ends exactly once, and each end appends one Internal
//     RequestEnded after its notifications.
//   - Leaving: the room gets cohost.changed{rooms: []}, the rooms that stay
//     get their new list; a connection left with one room ends (that room
//     gets [] too). A room that ends (RoomEnded) leaves the same way and its
//     pending requests end with room_ended, told to the other side.
//   - Battles are between the rooms connected when it started. A room
//     joining mid-battle sees it (and its scores) but does not take part; a
//     taking-part room leaving ends the battle with connection_ended, before
//     the cohost.changed of the leave. Durations are 10..3600 s.
//   - Scores: AddScore saturates at the int64 range. battle.scores goes out
//     at once when the last one is at least ScoresEvery old, otherwise at
//     that moment (a deadline): at most 5 a second, the newest totals always
//     delivered. The winners are every room with the top score.
package cohost
