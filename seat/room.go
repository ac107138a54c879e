package seat

import "time"

// Room is one live stream's seat state. See the package comment for the
// concurrency and time rules.
type Room struct {
	cfg   Config
	ended bool

	owner   *member
	members map[string]*member
	roster  roster
	banned  map[string]struct{}

	// v2 §11 (service.go, metadata.go): roles the service granted, which
	// outlive a membership; users the service muted in chat; the metadata.
	roles     map[string]Role
	chatMuted map[string]struct{}
	meta      Meta
	createdAt time.Time

	seats []seatState

	pending   requestList // every pending request, in creation order
	lastReqID uint64

	deadlines deadlineQueue
}

// New opens a room. The owner becomes a connected member on seat 0.
// It returns ErrInvalidParams for a bad config (seat count outside
// MinSeats..MaxSeatsLimit, unknown mode, empty ids, nil clock).
func New(cfg Config) (*Room, error) {
	if cfg.Mode == "" {
		cfg.Mode = ModeApply
	}
	if cfg.Owner.Role == "" {
		cfg.Owner.Role = RoleOwner
	}
	switch {
	case cfg.RoomID == "":
		return nil, newErr(ErrInvalidParams, "empty room id")
	case cfg.Owner.UserID == "":
		return nil, newErr(ErrInvalidParams, "empty owner id")
	case cfg.Owner.Role != RoleOwner:
		return nil, newErr(ErrInvalidParams, "the owner must have the owner role, not %q", cfg.Owner.Role)
	case cfg.MaxSeats < MinSeats || cfg.MaxSeats > MaxSeatsLimit:
		return nil, newErr(ErrInvalidParams, "maxSeats must be %d..%d, not %d", MinSeats, MaxSeatsLimit, cfg.MaxSeats)
	case cfg.Mode != ModeApply && cfg.Mode != ModeFree:
		return nil, newErr(ErrInvalidParams, "unknown seat mode %q", cfg.Mode)
	case cfg.Grace < 0:
		return nil, newErr(ErrInvalidParams, "negative reconnect grace")
	case cfg.MaxMembers < 0:
		return nil, newErr(ErrInvalidParams, "negative member cap")
	case cfg.MaxPending < 0:
		return nil, newErr(ErrInvalidParams, "negative pending-request cap")
	case cfg.Clock == nil:
		return nil, newErr(ErrInvalidParams, "nil clock")
	}
	if err := cfg.Meta.validate(); err != nil {
		return nil, err
	}
	r := &Room{
		cfg:     cfg,
		members: make(map[string]*member),
		banned:  make(map[string]struct{}),
		seats:   make([]seatState, cfg.MaxSeats),

		roles:     make(map[string]Role),
		chatMuted: make(map[string]struct{}),
		meta:      cfg.Meta,
		createdAt: cfg.Clock.Now(),
	}
	r.owner = r.addMember(cfg.Owner)
	r.sit(r.owner, 0)
	return r, nil
}

// ID returns the room id.
func (r *Room) ID() string { return r.cfg.RoomID }

// Ended reports whether the room has ended.
func (r *Room) Ended() bool { return r.ended }

// Info returns the room part of a snapshot.
func (r *Room) Info() Info {
	return Info{
		RoomID:      r.cfg.RoomID,
		MaxSeats:    r.cfg.MaxSeats,
		SeatMode:    r.cfg.Mode,
		MemberCount: len(r.members),
		Title:       r.meta.Title,
		Cover:       r.meta.Cover,
		Metadata:    r.meta.Metadata,
		CreatedAt:   r.createdAt.UnixMilli(),
	}
}

// --- time ---

// Tick fires every deadline at or before the clock's now: request timeouts
// and reconnect-grace expiries, in deadline order.
func (r *Room) Tick() []Delivery {
	if r.ended {
		return nil
	}
	now := r.cfg.Clock.Now()
	var out []Delivery
	for !r.ended {
		d := r.deadlines.peek()
		if d == nil || d.at.After(now) {
			break
		}
		switch {
		case d.request != nil:
			out = r.endRequest(out, d.request, OutcomeTimeout, endDetail{})
		case d.member == r.owner:
			out = append(out, r.Shutdown(OwnerTimeout)...)
		default:
			out = r.removeMember(out, d.member, LeftDisconnected, nil)
		}
	}
	return out
}

// NextDeadline is the earliest pending deadline, if any.
func (r *Room) NextDeadline() (time.Time, bool) {
	d := r.deadlines.peek()
	if d == nil {
		return time.Time{}, false
	}
	return d.at, true
}
