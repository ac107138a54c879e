package signal

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// Remote viewers' quality choices (PROTOCOL.md §9, §12). The cascade is one
// subscriber at the host, so what the host sends it — and what
// rtc.publisherLayers tells a simulcast publisher to encode — is what the
// cascade asks for. It asks, per seat, for the highest quality any of its
// local viewers asked for with rtc.setQuality (a fresh subscriber wants
// high), and re-asks when that maximum changes: a layer nobody watches on
// any node is turned off at the publisher, and one somebody watches here
// stays on.
//
// The mirror forwards the one layer the cascade receives, so a local
// viewer asking for less than another local viewer gets the more; and the
// local viewers' bandwidth is not folded in (the mirror can pause a slot
// for one viewer, not pick it a lower layer).

// cascadeQualitySettle gathers the changes of one moment (a viewer
// joining, several setQuality in a row) into one round of requests.
const cascadeQualitySettle = 50 * time.Millisecond

// qualityRank orders qualities; off is below every layer.
var qualityRank = map[proto.Quality]int{proto.QualityOff: 0, proto.QualityLow: 1, proto.QualityMedium: 2, proto.QualityHigh: 3}

// cascadeWants is what a cascade's local viewers want, per seat.
type cascadeWants struct {
	mu   sync.Mutex
	by   map[*relayState][]proto.Quality
	sent []proto.Quality // what the host was last asked, per seat
	kick chan struct{}   // a change to push; 1-buffered
	stop chan struct{}   // closed when the cascade closes
}

func newCascadeWants(seats int) *cascadeWants {
	sent := make([]proto.Quality, seats)
	for i := range sent {
		sent[i] = proto.QualityHigh // the host's default for a subscriber
	}
	return &cascadeWants{by: map[*relayState][]proto.Quality{}, sent: sent, kick: make(chan struct{}, 1), stop: make(chan struct{})}
}

// subscribed registers a local viewer's (new) subscription: it wants high
// everywhere.
func (w *cascadeWants) subscribed(st *relayState) {
	w.mu.Lock()
	q := make([]proto.Quality, len(w.sent))
	for i := range q {
		q[i] = proto.QualityHigh
	}
	w.by[st] = q
	w.mu.Unlock()
	w.changed()
}

// set records a local viewer's rtc.setQuality for one seat.
func (w *cascadeWants) set(st *relayState, seatIndex int, q proto.Quality) {
	w.mu.Lock()
	qs, ok := w.by[st]
	if ok && seatIndex >= 0 && seatIndex < len(qs) {
		qs[seatIndex] = q
	}
	w.mu.Unlock()
	w.changed()
}

// gone forgets a local viewer.
func (w *cascadeWants) gone(st *relayState) {
	w.mu.Lock()
	_, ok := w.by[st]
	delete(w.by, st)
	w.mu.Unlock()
	if ok {
		w.changed()
	}
}

func (w *cascadeWants) changed() {
	select {
	case w.kick <- struct{}{}:
	default: // a push is already due; it will read the latest wants
	}
}

// wanted is, per seat, the highest quality a local viewer wants (off with
// no viewers: nobody here watches).
func (w *cascadeWants) wanted() []proto.Quality {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]proto.Quality, len(w.sent))
	for i := range out {
		out[i] = proto.QualityOff
	}
	for _, qs := range w.by {
		for i, q := range qs {
			if qualityRank[q] > qualityRank[out[i]] {
				out[i] = q
			}
		}
	}
	return out
}

// pushQuality runs for the cascade's life (owned by k.wg): after each change has
// settled, it asks the host for every seat whose maximum moved.
func (k *cascade) pushQuality() {
	defer k.wg.Done()
	w := k.wants
	for {
		select {
		case <-w.stop:
			return
		case <-w.kick:
		}
		select {
		case <-w.stop:
			return
		case <-time.After(cascadeQualitySettle):
		}
		for seat, q := range w.wanted() {
			if q == w.sent[seat] {
				continue
			}
			ctx, cancel := context.WithTimeout(k.cs.c.srv.ctx, cascadeSetup)
			err := k.host.call(ctx, proto.MethodRTCSetQuality, proto.SetQualityParams{SeatIndex: &seat, Quality: q}, nil)
			cancel()
			if err != nil {
				k.cs.c.srv.log.Debug("cascade: quality at the host", "room", k.room, "seat", seat, "err", err)
				var refused *proto.Error
				select {
				case <-k.host.Done():
					return // the host is gone: nothing to ask any more
				default:
					if !errors.As(err, &refused) {
						w.changed() // unanswered: try again after the settle time
					}
				}
				continue
			}
			w.sent[seat] = q
		}
	}
}
