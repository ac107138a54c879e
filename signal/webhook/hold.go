package webhook

import "context"

// HoldFunc tells, for an event of roomID emitted now, what its delivery
// must wait for: nil for nothing. A cluster node holds each event until
// Redis has the room state it describes (PROTOCOL.md §12), so a receiver
// that reads the room anywhere in the cluster — or a node that takes the
// room over — sees what the event announced. The returned wait must
// return once that is so or given up on, or when its ctx ends.
//
// It is called from Emit, under the room's lock, so it must not block.
type HoldFunc func(roomID string) (wait func(ctx context.Context))

// HoldUntil installs f for every event emitted from now on. A dispatcher
// serves one server; call it before the first Emit.
func (d *Dispatcher) HoldUntil(f HoldFunc) {
	if d == nil {
		return
	}
	d.hold.Store(&f)
}

// holdFor is the wait of an event of roomID emitted now.
func (d *Dispatcher) holdFor(roomID string) func(context.Context) {
	f := d.hold.Load()
	if f == nil || *f == nil {
		return nil
	}
	return (*f)(roomID)
}

// release waits out a room's held head on its own goroutine, then makes
// the room ready again. The worker goes on with other rooms meanwhile, and
// the room's later events stay queued behind its head, so order holds.
// Called with s.mu held; q is neither ready nor in flight until then.
func (s *sink) release(q *roomQueue, wait func(context.Context)) {
	s.d.wg.Add(1)
	go func() {
		defer s.d.wg.Done()
		wait(s.d.ctx)
		// A room is in ready at most once, and q is not there now: the
		// send never blocks (ready holds QueueSize rooms).
		s.ready <- q
	}()
}
