// Package webhooktest is test support for the webhook dispatcher: a clock
// that moves only when the test says so, for its injected webhook.Clock.
package webhooktest

import (
	"sort"
	"sync"
	"time"

	"github.com/seatsfu/seatsfu/signal/webhook"
)

// Clock moves only when the test fires its timers: retry delays of
// minutes pass in microseconds of real time. AfterFunc's callbacks run on
// the goroutine of FireNext.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer
}

type timer struct {
	c  *Clock
	at time.Time
	f  func()
}

// NewClock is a clock that reads start until a timer fires.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now is the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// AfterFunc schedules f for d from now; it runs when FireNext reaches it.
func (c *Clock) AfterFunc(d time.Duration, f func()) webhook.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	for i, x := range t.c.timers {
		if x == t {
			t.c.timers = append(t.c.timers[:i], t.c.timers[i+1:]...)
			return true
		}
	}
	return false
}

// FireNext moves the clock to the earliest timer and fires every timer due
// then; false when none is pending.
func (c *Clock) FireNext() bool {
	c.mu.Lock()
	if len(c.timers) == 0 {
		c.mu.Unlock()
		return false
	}
	sort.Slice(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
	if c.timers[0].at.After(c.now) {
		c.now = c.timers[0].at
	}
	var due []*timer
	for len(c.timers) > 0 && !c.timers[0].at.After(c.now) {
		due = append(due, c.timers[0])
		c.timers = c.timers[1:]
	}
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
	return true
}

// Pending is how far ahead each pending timer is, in scheduling order
// until FireNext sorts them.
func (c *Clock) Pending() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Duration
	for _, t := range c.timers {
		out = append(out, t.at.Sub(c.now))
	}
	return out
}
