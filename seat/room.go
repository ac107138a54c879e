package seat

import "time"

// Room is one live stream's seat state. See the package comment for the
// concurrency and time rules.
//
// SKELETON: the signatures below are the agreed API; bodies are being
// written in this package. Callers may rely on the names, parameters and
// documented behaviour.
type Room struct {
	cfg Config
}

// New opens a room. The owner becomes a connected member on seat 0.
// It returns ErrInvalidParams for a bad config (seat count outside
// MinSeats..MaxSeatsLimit, unknown mode, empty ids, nil clock).
func New(cfg Config) (*Room, error) { panic("seat: not implemented yet") }

// ID returns the room id.
func (r *Room) ID() string { return r.cfg.RoomID }

// --- membership ---

// Join adds a member, or resumes one that is inside its reconnect grace (its
// seat and requests are kept; its published media is not: the seat shows
// microphone/camera "off" until it publishes again). A user already
// connected is resumed too (the edge replaces the old socket). The returned
// snapshot is what room.join answers. Errors: ErrBanned, ErrRoomFull,
// ErrPermission (an owner token for a room that has another owner).
func (r *Room) Join(u User) (Snapshot, []Delivery, error) { panic("unimplemented") }

// Leave is room.leave: the member goes at once (seat freed with reason
// "left", its requests end with "left"). ErrOwnerCannotLeave for the owner.
func (r *Room) Leave(userID string) ([]Delivery, error) { panic("unimplemented") }

// Disconnect marks a member whose socket dropped. It keeps its seat and
// requests until now+Grace; its media stops (publishing flags cleared).
// Tick after the deadline makes it leave (reason "disconnected"); for the
// owner the room ends with OwnerTimeout. With Grace 0 it leaves at once.
func (r *Room) Disconnect(userID string) ([]Delivery, error) { panic("unimplemented") }

// KickOut is room.kickOut: the target leaves (seat reason "kicked"), is
// banned from rejoining, and gets KickedOut. Owner and admins may kick out;
// nobody may kick out the owner, and an admin may not kick out an admin.
func (r *Room) KickOut(actor, target string) ([]Delivery, error) { panic("unimplemented") }

// End is room.end by the owner (ErrPermission for anyone else).
func (r *Room) End(actor string) ([]Delivery, error) { panic("unimplemented") }

// Shutdown ends the room for a reason that is nobody's action
// (OwnerTimeout, ServerShutdown). Every pending request ends (outcome
// room_ended), every seat empties (reason room_ended) and RoomEnded goes to
// everyone. Calling it on an ended room returns nil.
func (r *Room) Shutdown(reason string) []Delivery { panic("unimplemented") }

// Ended reports whether the room has ended.
func (r *Room) Ended() bool { panic("unimplemented") }

// Members pages through every member once (owner and caller included) in a
// stable order; cursor "" starts, the returned cursor "" means the end.
// limit must be 1..100 (ErrInvalidParams), and so must a cursor this room
// did not hand out.
func (r *Room) Members(actor, cursor string, limit int) ([]User, string, error) {
	panic("unimplemented")
}

// Member returns a member by id.
func (r *Room) Member(userID string) (User, bool) { panic("unimplemented") }

// MemberCount counts members, disconnected ones inside their grace included.
func (r *Room) MemberCount() int { panic("unimplemented") }

// --- seats ---

// Apply is seat.apply: an application for seatIndex (-1 = any) with a
// timeout in seconds (0 = none). Returns the request id.
func (r *Room) Apply(actor string, seatIndex, timeoutSec int, extraInfo string) (string, []Delivery, error) {
	panic("unimplemented")
}

func (r *Room) CancelApplication(actor string) ([]Delivery, error) { panic("unimplemented") }

// AcceptApplication returns the seat the applicant got.
func (r *Room) AcceptApplication(actor, applicant string) (int, []Delivery, error) {
	panic("unimplemented")
}

func (r *Room) RejectApplication(actor, applicant string) ([]Delivery, error) {
	panic("unimplemented")
}

// Invite is seat.invite; returns the request id.
func (r *Room) Invite(actor, invitee string, seatIndex, timeoutSec int, extraInfo string) (string, []Delivery, error) {
	panic("unimplemented")
}

func (r *Room) CancelInvitation(actor, invitee string) ([]Delivery, error) { panic("unimplemented") }

// AcceptInvitation returns the seat the invitee got.
func (r *Room) AcceptInvitation(actor, inviter string) (int, []Delivery, error) {
	panic("unimplemented")
}

func (r *Room) RejectInvitation(actor, inviter string) ([]Delivery, error) { panic("unimplemented") }

// Take is seat.take; returns the seat taken.
func (r *Room) Take(actor string, seatIndex int) (int, []Delivery, error) { panic("unimplemented") }

func (r *Room) Move(actor string, seatIndex int) ([]Delivery, error) { panic("unimplemented") }

// LeaveSeat is seat.leave (ErrNotSeated without a seat; the owner may not
// leave seat 0: ErrPermission).
func (r *Room) LeaveSeat(actor string) ([]Delivery, error) { panic("unimplemented") }

func (r *Room) Kick(actor, target string) ([]Delivery, error) { panic("unimplemented") }

// Lock is seat.lock; nil fields are left unchanged.
func (r *Room) Lock(actor string, seatIndex int, lockSeat, lockAudio, lockVideo *bool) ([]Delivery, error) {
	panic("unimplemented")
}

// SetMuted is media.setMuted for the actor's own seat. Unmuting a kind whose
// lock is set is refused with ErrPermission.
func (r *Room) SetMuted(actor string, kind Kind, muted bool) ([]Delivery, error) {
	panic("unimplemented")
}

// SetPublishing is reported by the media layer when a seated user's track of
// a kind starts or stops arriving. It only changes what microphone/camera
// show ("on" needs: seated, not locked, not muted, publishing). Unknown or
// unseated users are ignored (nil, nil).
func (r *Room) SetPublishing(userID string, kind Kind, publishing bool) ([]Delivery, error) {
	panic("unimplemented")
}

// --- queries for the media layer and the edge ---

// SeatOf returns the user's seat index, or NoSeat.
func (r *Room) SeatOf(userID string) int { panic("unimplemented") }

// Seats returns a copy of every seat.
func (r *Room) Seats() []Seat { panic("unimplemented") }

// Allowed says who sits on a seat and whether each kind of their media may
// be forwarded now (seated, kind not locked, not muted) — regardless of
// whether they publish. The media layer gates forwarding on it.
func (r *Room) Allowed(index int) (userID string, audio, video bool) { panic("unimplemented") }

// Info returns the room part of a snapshot.
func (r *Room) Info() Info { panic("unimplemented") }

// --- time ---

// Tick fires every deadline at or before the clock's now: request timeouts
// and reconnect-grace expiries, in deadline order.
func (r *Room) Tick() []Delivery { panic("unimplemented") }

// NextDeadline is the earliest pending deadline, if any.
func (r *Room) NextDeadline() (time.Time, bool) { panic("unimplemented") }
