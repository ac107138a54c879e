package sfu

import (
	"log/slog"
	"sync"
	"time"

	"github.com/seatsfu/seatsfu/seat"
)

// Room is one live stream: its seat controller and its media.
//
// mu serialises everything that changes who may be heard: seat operations,
// the reconcile that applies them to forwarding, and publisher/viewer
// registration. The packet path never takes it. It is the outermost lock of
// the package (the lock order is written at SFU.mu, sfu.go).
type Room struct {
	s        *SFU
	id       string
	log      *slog.Logger
	notifier Notifier
	commit   func(*seat.Room) // RoomConfig.Commit, may be nil
	clock    seat.Clock
	maxSeats int
	done     chan struct{}

	mu         sync.Mutex
	seat       *seat.Room
	ended      bool
	occupied   int // this room's share of seats_occupied
	timer      *time.Timer
	timerAt    time.Time
	publishers map[string]*publisher // by user id
	viewers    map[*viewer]struct{}
	seats      []seatMedia
	// guests are other rooms' viewers' co-host slots carrying this room's
	// owner: more slots of seat 0 (cohost.go).
	guests [2][]*slot

	// Guarded by s.coMu (cohost.go): the rooms this room's co-host slots
	// carry, in order, and its viewers that have co-host slots.
	coPeers   []*Room
	coViewers map[*viewer]struct{}
}

// seatMedia is what one seat index forwards: per kind, the source currently
// pointed at it and every viewer slot that carries the seat.
type seatMedia struct {
	src   [2]*source
	slots [2][]*slot
}

func newRoom(s *SFU, sr *seat.Room, cfg RoomConfig) *Room {
	info := sr.Info()
	return &Room{
		s: s, id: sr.ID(), log: s.log.With("room", sr.ID()), notifier: cfg.Notifier, commit: cfg.Commit,
		clock: cfg.Seat.Clock, maxSeats: info.MaxSeats, done: make(chan struct{}),
		seat: sr, publishers: map[string]*publisher{}, viewers: map[*viewer]struct{}{},
		seats: make([]seatMedia, info.MaxSeats),
	}
}

func (r *Room) ID() string { return r.id }

// ViewerCount is the number of subscribe connections the room serves now.
func (r *Room) ViewerCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.viewers)
}

// MaxSeats is the room's seat count, owner's included.
func (r *Room) MaxSeats() int { return r.maxSeats }

// Do runs one seat operation under the room's lock. When op succeeds, the
// deliveries' media effects are applied (publishers of users who lost their
// seat closed, slots re-pointed, kinds gated), then the notifier gets them;
// all before Do returns. When op fails nothing changes and its error is
// returned. Once the room has ended (RoomEnded was delivered) the room closes
// its media, leaves the SFU's registry and Done is closed.
func (r *Room) Do(op func(*seat.Room) ([]seat.Delivery, error)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return ErrRoomEnded
	}
	ds, err := op(r.seat)
	if err != nil {
		return err
	}
	if r.commit != nil {
		r.commit(r.seat)
	}
	r.reconcile()
	endReason, ended := r.logEvents(ds)
	if len(ds) > 0 {
		r.notifier.Notify(r, ds)
	}
	if ended || r.seat.Ended() {
		r.endLocked(endReason)
		return nil
	}
	r.afterOp()
	return nil
}

// Abandon closes the room's media and drops it without a seat decision:
// another node hosts it now (PROTOCOL.md §12), so nothing is told to its
// members here; their clients reconnect and reach the new host.
func (r *Room) Abandon() { r.closeMedia() }

// Done is closed when the room has ended.
func (r *Room) Done() <-chan struct{} { return r.done }

// afterOp refreshes what every seat operation may change outside the media:
// the occupied-seats gauge and the deadline timer. Called with mu held.
func (r *Room) afterOp() {
	occupied := 0
	for _, st := range r.seat.Seats() {
		if st.User != nil {
			occupied++
		}
	}
	r.s.m.seatsOccupied.Add(float64(occupied - r.occupied))
	r.occupied = occupied
	r.armTimer()
}

// armTimer makes sure Tick runs at the seat controller's next deadline. The
// timer's callback only calls Do, so it needs no goroutine of its own; it is
// stopped when the room ends.
func (r *Room) armTimer() {
	at, ok := r.seat.NextDeadline()
	if !ok {
		if r.timer != nil {
			r.timer.Stop()
			r.timer = nil
		}
		return
	}
	if r.timer != nil && at.Equal(r.timerAt) {
		return
	}
	if r.timer != nil {
		r.timer.Stop()
	}
	r.timerAt = at
	wait := at.Sub(r.clock.Now())
	if wait < 0 {
		wait = 0
	}
	r.timer = time.AfterFunc(wait, r.tick)
}

func (r *Room) tick() {
	err := r.Do(func(sr *seat.Room) ([]seat.Delivery, error) {
		// This timer fired; let afterOp arm the next one even for the
		// same instant (a fake clock may not have reached it yet).
		r.timer, r.timerAt = nil, time.Time{}
		return sr.Tick(), nil
	})
	if err != nil && err != ErrRoomEnded {
		r.log.Warn("tick", "err", err)
	}
}

// endLocked closes the room's media once it has ended, for the seat
// controller's reason ("" when the SFU closes it). Called with mu held.
func (r *Room) endLocked(reason string) {
	if r.ended {
		return
	}
	r.ended = true
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	r.s.m.seatsOccupied.Sub(float64(r.occupied))
	r.occupied = 0
	r.closePeersLocked()
	r.s.dropRoom(r)
	close(r.done)
	if reason == "" {
		reason = "media_closed"
	}
	r.log.Info("room ended", "reason", reason)
}

// closeMedia closes every peer of the room without a seat decision (the
// SFU is shutting down). The room leaves the registry and Done closes.
func (r *Room) closeMedia() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.endLocked("")
}

func (r *Room) closePeersLocked() {
	for user, p := range r.publishers {
		delete(r.publishers, user)
		p.stop()
	}
	for v := range r.viewers {
		r.detachViewerLocked(v)
		v.peer.closeAsync()
	}
	r.reconcile()
}

// reconcile makes forwarding match the seat state: for each seat and kind,
// the source pointed at the seat is the seated user's published track if
// the kind is allowed (not locked, not muted), else nothing. It is
// idempotent and runs under mu after every successful operation and every
// publisher/viewer change. Gating is immediate because re-pointing a slot
// replaces its binding, and the writer drops every queued packet whose
// binding is no longer current (see slot.repoint).
func (r *Room) reconcile() {
	// Publishers whose user lost the seat, or whose publishing the
	// controller cleared, are dropped here (the loop below then gates their
	// sources) and closed in the background.
	for user, p := range r.publishers {
		if r.ended || r.seat.SeatOf(user) == seat.NoSeat || p.disowned() {
			delete(r.publishers, user)
			p.stop()
		}
	}
	var changed []*source
	for k := range r.seats {
		sm := &r.seats[k]
		var user string
		var allowed [2]bool
		if !r.ended {
			user, allowed[audioIdx], allowed[videoIdx] = r.seat.Allowed(k)
		}
		pub := r.publishers[user]
		for kind := range sm.src {
			var want *source
			if user != "" && pub != nil && allowed[kind] {
				want = pub.sources[kind]
			}
			if sm.src[kind] == want {
				continue
			}
			if old := sm.src[kind]; old != nil {
				changed = append(changed, old)
			}
			sm.src[kind] = want
			if want != nil {
				changed = append(changed, want)
			}
			for _, sl := range sm.slots[kind] {
				sl.repoint(want)
			}
			if k == 0 {
				for _, sl := range r.guests[kind] {
					sl.repoint(want)
				}
			}
		}
	}
	// Only now is every seat decided: a source may have left one seat and
	// joined another in this pass (seat.move), in either index order.
	for _, src := range changed {
		src.seatIdx = -1
		for k := range r.seats {
			if r.seats[k].src[src.kind] == src {
				src.seatIdx = k
			}
		}
		r.refreshSinks(src)
	}
}

// refreshSinks publishes a new copy of the slots src feeds: those of the
// seat it is pointed at, minus its own user's (nobody hears themselves).
// The reader loads the list with one atomic read per packet. Every layer of
// a simulcast video feeds the same slots (each slot takes the packets of
// the layer it is bound to) and follows src to its seat.
func (r *Room) refreshSinks(src *source) {
	var sinks []*slot
	if src.seatIdx >= 0 {
		for _, sl := range r.seats[src.seatIdx].slots[src.kind] {
			if sl.viewer.user != src.pub.user {
				sinks = append(sinks, sl)
			}
		}
	}
	if src.seatIdx == 0 {
		for _, sl := range r.guests[src.kind] {
			if sl.viewer.user != src.pub.user {
				sinks = append(sinks, sl)
			}
		}
	}
	src.sinks.Store(&sinks)
	if g := src.sim; g != nil {
		for _, l := range g.layers {
			if l != nil && l != src {
				l.seatIdx = src.seatIdx
				l.sinks.Store(&sinks)
			}
		}
	}
}
