package whip_test

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Every session's watcher, and every peer connection a test opens, must be
// gone when the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock is the injected clock of the per-IP POST budget, so rate
// limits are exact.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }
