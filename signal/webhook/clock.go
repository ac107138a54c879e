package webhook

import "time"

// Clock is the dispatcher's only source of time: signature timestamps,
// createdAt, retry delays and the give-up horizon.
type Clock interface {
	Now() time.Time
	// AfterFunc runs f on its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc.
type Timer interface{ Stop() bool }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
