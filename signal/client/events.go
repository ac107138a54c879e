package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// ErrNoEventLog is NextEvent's answer on a client dialled with a disabled
// event log (WithEventLog(-1)).
var ErrNoEventLog = errors.New("client: the event log is disabled")

// Notification method names (PROTOCOL.md §3.3), from signal/proto.
const (
	MethodSeatChanged                     = proto.NoteSeatChanged
	MethodRoomMessage                     = proto.NoteRoomMessage
	MethodRoomStats                       = proto.NoteRoomStats
	MethodRoomEnded                       = proto.NoteRoomEnded
	MethodApplicationReceived             = proto.NoteApplicationReceived
	MethodApplicationCancelled            = proto.NoteApplicationCancelled
	MethodApplicationProcessedByOtherHost = proto.NoteApplicationProcessedByOtherHost
	MethodInvitationResponded             = proto.NoteInvitationResponded
	MethodInvitationNoResponse            = proto.NoteInvitationNoResponse
	MethodMemberJoined                    = proto.NoteMemberJoined
	MethodMemberLeft                      = proto.NoteMemberLeft
	MethodApplicationResponded            = proto.NoteApplicationResponded
	MethodApplicationNoResponse           = proto.NoteApplicationNoResponse
	MethodInvitationReceived              = proto.NoteInvitationReceived
	MethodInvitationCancelled             = proto.NoteInvitationCancelled
	MethodSeatKicked                      = proto.NoteSeatKicked
	MethodKickedOut                       = proto.NoteKickedOut
	MethodSessionReplaced                 = proto.NoteSessionReplaced
)

// Event is one notification as received, or (Method "") a response that
// matched no pending call.
type Event struct {
	Method string
	Params json.RawMessage
	// At is when the reader received the frame.
	At time.Time
	// ID and Err are set on responses that matched no call.
	ID  json.RawMessage
	Err *Error

	seq uint64
}

// Decode unmarshals the event's params into T, e.g.
// Decode[proto.ApplicationReceived](ev).
func Decode[T any](ev Event) (T, error) {
	var v T
	if len(ev.Params) == 0 {
		return v, fmt.Errorf("client: %s has no params", ev.Method)
	}
	err := json.Unmarshal(ev.Params, &v)
	return v, err
}

// eventLog keeps the last max events in a ring and, per method, how far
// NextEvent has read. It is guarded by Client.mu. max 0 keeps nothing.
type eventLog struct {
	max     int
	ring    []Event // grows to max, then wraps at start
	start   int     // index of the oldest event once the ring is full
	seq     uint64
	cursor  map[string]uint64 // method → seq of the last event NextEvent returned
	changed chan struct{}     // closed and replaced on every change
}

func newEventLog(max int) eventLog {
	return eventLog{max: max, cursor: map[string]uint64{}, changed: make(chan struct{})}
}

func (l *eventLog) add(ev Event) {
	if l.max == 0 {
		return
	}
	l.seq++
	ev.seq = l.seq
	if len(l.ring) < l.max {
		l.ring = append(l.ring, ev)
	} else {
		l.ring[l.start] = ev // overwrite the oldest
		l.start = (l.start + 1) % l.max
	}
	l.wake()
}

func (l *eventLog) wake() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// each calls f on every logged event, oldest first, until f returns false.
func (l *eventLog) each(f func(Event) bool) {
	for i := range l.ring {
		if !f(l.ring[(l.start+i)%len(l.ring)]) {
			return
		}
	}
}

// take returns the first event of method after the method's cursor and
// advances the cursor.
func (l *eventLog) take(method string) (found Event, ok bool) {
	after := l.cursor[method]
	l.each(func(ev Event) bool {
		if ev.seq > after && ev.Method == method {
			found, ok = ev, true
			return false
		}
		return true
	})
	if ok {
		l.cursor[method] = found.seq
	}
	return found, ok
}

// NextEvent returns the next notification of method that NextEvent has not
// returned before, waiting for it until ctx ends. Each method has its own
// cursor, so waiting for one method never consumes another's events. Once
// the connection has ended and no such event is left, it returns Err().
func (c *Client) NextEvent(ctx context.Context, method string) (Event, error) {
	if c.events.max == 0 {
		return Event{}, ErrNoEventLog
	}
	for {
		c.mu.Lock()
		ev, ok := c.events.take(method)
		changed := c.events.changed
		c.mu.Unlock()
		if ok {
			return ev, nil
		}
		select {
		case <-c.done:
			// The reader has stopped: one last look, then give up.
			c.mu.Lock()
			ev, ok := c.events.take(method)
			c.mu.Unlock()
			if ok {
				return ev, nil
			}
			return Event{}, fmt.Errorf("client: waiting for %s: %w", method, c.Err())
		case <-ctx.Done():
			return Event{}, fmt.Errorf("client: waiting for %s: %w", method, ctx.Err())
		case <-changed:
		}
	}
}

// NextResponse returns the next response that matched no call (the answer
// to a WriteRaw frame), waiting until ctx ends.
func (c *Client) NextResponse(ctx context.Context) (Event, error) {
	return c.NextEvent(ctx, "")
}

// Next waits for the next notification of method and decodes its params.
func Next[T any](ctx context.Context, c *Client, method string) (T, error) {
	ev, err := c.NextEvent(ctx, method)
	if err != nil {
		var zero T
		return zero, err
	}
	return Decode[T](ev)
}

// Events returns a copy of the logged events of method (all methods when
// method is "*"), oldest first, without moving any cursor.
func (c *Client) Events(method string) []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Event
	c.events.each(func(ev Event) bool {
		if method == "*" || ev.Method == method {
			out = append(out, ev)
		}
		return true
	})
	return out
}
