// Package seat is the co-guest seat controller: a pure state machine that
// decides every seat rule of the seatsfu contract (PROTOCOL.md §4) and the
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
// routes them. seat speaks in domain types only — no JSON, no method names,
// no numeric codes: the edge (signal/wire.go) gives events and refusals
// their wire form (signal/proto).
//
// # Decisions where the contract leaves room
//
//   - Any operation on an ended room is ErrRoomNotFound; an actor that is not
//     a member is ErrNotJoined.
//   - Seat indices: requests and seat.take name -1 (any) or 1..maxSeats-1;
//     seat.move and seat.lock name 1..maxSeats-1. Anything else, seat 0
//     included, is ErrSeatIndexInvalid. Timeouts are 0..MaxTimeout seconds
//     and extraInfo at most MaxExtraInfo bytes, else ErrInvalidParams.
//   - Whether the seat a request names is free is decided when it is
//     accepted (rule 4), never when it is made; a failed accept keeps the
//     request pending and sends nothing.
//   - Rule 2: a user is the subject of at most one pending request (an
//     application it sent or an invitation it received). Same kind again is
//     ErrAlreadyApplied, the other kind ErrRequestConflict; a seated subject
//     is ErrAlreadySeated. A host may have many invitations out, one per
//     invitee. A host neither answers its own application nor invites itself.
//   - Every request ends exactly once, and each end appends one Internal
//     RequestEnded after the notifications of both sides. An applicant's
//     own ApplicationReceived/ApplicationCancelled are not sent to it when
//     it is an admin (Except).
//   - Roles: audience and admins apply; hosts answer, invite, kick, lock and
//     kick out; audience take seats only in ModeFree. Nobody kicks or kicks
//     out the owner; an admin may not kick out an admin.
//   - A seat's locks belong to the seat. Setting a kind's lock mutes that
//     kind; clearing it leaves it muted until the guest unmutes. A new
//     occupant of a seat starts unmuted except for locked kinds; a guest who
//     moves keeps its mute state and media, and the new seat's locks apply.
//   - A seat shows closedByAdmin for a locked kind, "on" while it is seated,
//     unmuted and publishing, "off" otherwise. Every change of what the seats
//     show sends exactly one SeatChanged per operation, and a call that
//     changes nothing sends none.
//   - A Join of a current member (connected, or inside its grace) resumes
//     it: seat and requests kept, publishing cleared, no MemberJoined, and it
//     keeps the role it first joined with. Resumes never count against
//     MaxMembers. A token with the owner role for another user, or another
//     role for the owner, is ErrPermission.
//   - The members list pages in join order; a cursor names the last member
//     returned, so someone present through the whole paging is listed
//     exactly once.
package seat
