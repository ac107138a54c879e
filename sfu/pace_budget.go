package sfu

import (
	"sync"
	"time"
)

// The node's replay budget.
//
// Each replay is paced (pace.go), but a join burst starts hundreds at
// once: 450 viewers with three video slots each, every replay up to 16
// Mbit/s, is several Gbit/s for half a second on top of the live egress —
// more than a NIC's queue or the viewers' paths take, and what is lost is
// then NACKed, re-sent and lost again. So the node runs at most
// --replay-budget worth of replays at a time, by their pacing rates; a
// replay over it waits its turn, first come first served, and joins start
// a little later instead of all at once (seatsfu_replay_wait_seconds says
// how much later). A replay that has its turn runs at its full rate: a
// share of a budget could fall under the group's own bitrate and never
// catch up with the live edge (the cache would overflow and the slot start
// over on a requested keyframe — the keyframe-request storm this avoids).
// One replay always runs, whatever its rate, so a budget smaller than one
// replay delays joins but never stops them.
//
// While a replay waits its slot is gated like one replaying: its live
// packets go to the cached group, which the replay sends once it starts.
//
// replayBudget.mu is a leaf lock: taken under slot.mu (the writer starting
// or ending a replay) or under Room.mu (overload.go's viewerGone), and no
// other lock is taken under it.
type replayBudget struct {
	mu    sync.Mutex
	limit float64 // bytes per second; 0: no budget
	used  float64 // the running replays' rates
	// running are the replays that have their turn, by their reserved
	// rate; waiting the ones waiting for it, oldest first. A slot is in at
	// most one, once: the queue is bounded by the node's video slots.
	running map[*slot]float64
	waiting []waiter
	m       *overloadMetrics // nil: not measured
}

// waiter is a waiting replay and the rate it measured when it queued.
type waiter struct {
	sl   *slot
	rate float64
}

// replayPoll is how often a waiting replay looks again by itself; a
// replay that ends wakes the next ones at once, so this is a backstop.
const replayPoll = 50 * time.Millisecond

func (b *replayBudget) init(bitsPerSecond int, m *overloadMetrics) {
	b.limit = float64(bitsPerSecond) / 8
	b.running = make(map[*slot]float64)
	b.m = m
}

// take gives sl's replay, at rate bytes per second, its turn, or queues it
// (false). Called by the writer with sl.mu held.
func (b *replayBudget) take(sl *slot, rate float64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running == nil { // an SFU built without New: no budget, no count
		return true
	}
	if sl.viewer.upState.Load() == 2 {
		return false // gone (overload.go's viewerGone): hold no turn, wait for nothing
	}
	if _, ok := b.running[sl]; ok {
		return true // promoted by a replay that ended (admit)
	}
	first := len(b.waiting) == 0 || b.waiting[0].sl == sl
	if b.limit > 0 && (!first || len(b.running) > 0 && b.used+rate > b.limit) {
		if b.index(sl) < 0 {
			b.waiting = append(b.waiting, waiter{sl, rate})
		}
		b.note()
		return false
	}
	if len(b.waiting) > 0 && b.waiting[0].sl == sl {
		b.waiting = b.waiting[1:]
	}
	b.running[sl] = rate
	b.used += rate
	b.note()
	return true
}

// end takes sl's replay out of the budget, running or waiting, and gives
// the freed budget to the oldest waiting replays. Called with sl.mu held.
func (b *replayBudget) end(sl *slot) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running == nil {
		return
	}
	if rate, ok := b.running[sl]; ok {
		delete(b.running, sl)
		b.used -= rate
		if len(b.running) == 0 {
			b.used = 0 // no drift from float sums
		}
	} else if i := b.index(sl); i >= 0 {
		b.waiting = append(b.waiting[:i], b.waiting[i+1:]...)
	}
	b.admit()
	b.note()
}

// admit gives the oldest waiting replays their turn while they fit, at the
// rate they measured when they queued (they measure again when they
// start), and wakes their viewers' writers. Called with b.mu held: the
// wake-up runs on its own short goroutine, because scheduling a writer
// takes the writer pool's lock, which must not nest in slot.mu.
func (b *replayBudget) admit() {
	for len(b.waiting) > 0 {
		w := b.waiting[0]
		if len(b.running) > 0 && b.used+w.rate > b.limit {
			return
		}
		b.waiting = b.waiting[1:]
		b.running[w.sl] = w.rate
		b.used += w.rate
		go w.sl.viewer.schedule()
	}
}

func (b *replayBudget) index(sl *slot) int {
	for i, w := range b.waiting {
		if w.sl == sl {
			return i
		}
	}
	return -1
}

func (b *replayBudget) note() {
	if b.m != nil {
		b.m.replaysActive.Set(float64(len(b.running)))
		b.m.replaysWaiting.Set(float64(len(b.waiting)))
	}
}
