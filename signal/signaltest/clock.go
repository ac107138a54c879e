package signaltest

import (
	"sync"
	"time"
)

// Clock is a settable seat.Clock (WithClock), so rate limits and
// deadlines are exact: it reads a fixed instant until Advance moves it.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock is a clock at a fixed instant.
func NewClock() *Clock { return &Clock{now: time.Unix(1_800_000_000, 0)} }

// Now is the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// Advance moves the clock d forward.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }
