package media

import (
	"sync"
	"time"
)

// DefaultKeyframeInterval is the least time between two keyframe requests
// sent to one publisher.
const DefaultKeyframeInterval = 500 * time.Millisecond

// KeyframeThrottle coalesces the keyframe requests (PLI/FIR) of any number of
// viewers into at most one upstream request per interval per publisher: a
// keyframe costs the publisher's bandwidth, and every viewer benefits from the
// same one. A request refused inside the interval is remembered and granted
// once the interval is over, so no viewer waits forever. Safe for concurrent
// use.
type KeyframeThrottle struct {
	interval time.Duration

	mu      sync.Mutex
	sent    bool
	last    time.Time
	pending bool
}

// NewKeyframeThrottle returns a throttle allowing one request per interval
// (DefaultKeyframeInterval when interval ≤ 0).
func NewKeyframeThrottle(interval time.Duration) *KeyframeThrottle {
	if interval <= 0 {
		interval = DefaultKeyframeInterval
	}
	return &KeyframeThrottle{interval: interval}
}

// Request asks for a keyframe at now. It reports true when the caller should
// send one upstream now; otherwise the request is remembered for Pending.
func (k *KeyframeThrottle) Request(now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.open(now) {
		k.grant(now)
		return true
	}
	k.pending = true
	return false
}

// Pending reports true, once, when a request refused earlier may now be sent
// upstream; the caller polls it (e.g. on its RTCP ticker) and sends one.
func (k *KeyframeThrottle) Pending(now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pending && k.open(now) {
		k.grant(now)
		return true
	}
	return false
}

// Due is when a pending request will be granted (zero when none is pending),
// for callers that prefer a timer to polling.
func (k *KeyframeThrottle) Due() time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.pending {
		return time.Time{}
	}
	return k.last.Add(k.interval)
}

// Reset forgets the last request, e.g. when the publisher changes: the new
// one's first keyframe request must not wait for the old one's interval.
func (k *KeyframeThrottle) Reset() {
	k.mu.Lock()
	k.sent, k.pending = false, false
	k.mu.Unlock()
}

func (k *KeyframeThrottle) open(now time.Time) bool {
	// A clock going backwards by more than an interval re-opens the gate
	// rather than locking it shut. A smaller step back is not a clock jump
	// but concurrent callers: one read the time, another was granted with a
	// later reading before the first got the lock. Treating that as "open"
	// let two PLIs out within microseconds.
	return !k.sent || now.Sub(k.last) >= k.interval || k.last.Sub(now) > k.interval
}

func (k *KeyframeThrottle) grant(now time.Time) {
	k.sent, k.last, k.pending = true, now, false
}
