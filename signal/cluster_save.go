package signal

import (
	"context"
	"errors"
	"sync"

	"github.com/seatsfu/seatsfu/internal/cluster"
)

// Writing a room's state to Redis off the room's lock (PROTOCOL.md §12:
// "written before the answer and the notifications go out").
//
// Under the room's lock, commit only stages the new state (no I/O) and
// notes its version; the room's saver writes it on its own goroutine. The
// answer and the notifications are still queued under the lock, in order,
// but each queued frame carries the version staged when it was queued
// (a saveMark), and a session's writer holds the frame until the saver has
// written that version. So a client never hears of a change Redis does not
// hold, while the room's lock is held for no round trip at all: operations
// on the room go on while their states are on the way, and a burst of
// them costs one write (the saver writes the newest staged state, which
// covers every older one; Redis refuses an older version after a newer
// one, and one goroutine per room writes them in order anyway).
//
// The room's webhooks wait the same way (webhookHold): the dispatcher
// holds each one until Redis has the version staged when it was emitted,
// so a receiver that reads the room through the server API on any node,
// or a node that takes the room over, sees what the webhook announced.
// Their order is kept by the dispatcher's per-room queue.
//
// A room that ends is forgotten in Redis the same way (stageEnd): the end
// is the saver's last write, after any write in flight, so an older state
// never lands after it (and Redis's fence refuses one that tried); what
// was queued with the end — the last answer, room.ended, the closes, the
// webhooks — goes out once Redis no longer has the room.
//
// While Redis is down (Store.Up false, or a write fails) the frames go
// out unwritten, as before: the room keeps running and the node's tick
// writes the staged state when Redis returns.

// roomSaver writes one hosted room's staged states.
type roomSaver struct {
	c    *clusterEdge
	h    *cluster.Hosted
	kick chan struct{} // a newer state is staged

	mu       sync.Mutex
	staged   uint64        // newest version staged
	ending   uint64        // the version that is the room's end; 0 while it runs
	released uint64        // frames queued at versions up to this may go out
	moved    chan struct{} // closed (and replaced) when released moves
	closed   bool
}

// saveMark is what a queued frame waits for: its room's version at the
// time it was queued. The zero mark waits for nothing.
type saveMark struct {
	saver   *roomSaver
	version uint64
}

// wait returns once the mark's state is written (or given up on), or ctx
// ends.
func (m saveMark) wait(ctx context.Context) {
	if m.saver == nil {
		return
	}
	for {
		m.saver.mu.Lock()
		ok, moved := m.saver.released >= m.version || m.saver.closed, m.saver.moved
		m.saver.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return
		}
	}
}

// saveMark is the mark for a frame queued now to a session of room.
func (s *Server) saveMark(room string) saveMark {
	if s.cl == nil {
		return saveMark{}
	}
	s.cl.saversMu.Lock()
	sv := s.cl.savers[room]
	s.cl.saversMu.Unlock()
	if sv == nil {
		return saveMark{}
	}
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if sv.released >= sv.staged {
		return saveMark{} // nothing on the way: no need to look again
	}
	return saveMark{saver: sv, version: sv.staged}
}

// webhookHold is the room's webhook.HoldFunc: an event emitted now waits
// for the state staged now.
func (c *clusterEdge) webhookHold(room string) func(context.Context) {
	m := c.srv.saveMark(room)
	if m.saver == nil {
		return nil
	}
	return m.wait
}

// awaitFirstState makes what is queued for a new room wait for its first
// state (version 1, which its owner's join stages): the room is not
// announced before Redis has it. Should the room end or leave this node
// before staging anything, closing its saver lets everything go.
func (c *clusterEdge) awaitFirstState(h *cluster.Hosted) {
	sv := c.saverOf(h)
	if sv == nil {
		return
	}
	sv.mu.Lock()
	sv.staged = max(sv.staged, 1)
	sv.mu.Unlock()
}

// stage records version v as staged (under the room's lock) and wakes the
// saver. With Redis known to be down it is released at once.
func (c *clusterEdge) stage(h *cluster.Hosted, v uint64) {
	sv := c.saverOf(h)
	if sv == nil {
		return
	}
	sv.mu.Lock()
	if v > sv.staged {
		sv.staged = v
	}
	pending := sv.staged > sv.released
	sv.mu.Unlock()
	if !pending {
		return
	}
	if !c.store.Up() {
		sv.release(v)
		return
	}
	select {
	case sv.kick <- struct{}{}:
	default: // already woken: it writes the newest state anyway
	}
}

// saverOf returns the room's saver, starting it on first use; nil once the
// node is shutting down.
func (c *clusterEdge) saverOf(h *cluster.Hosted) *roomSaver {
	c.saversMu.Lock()
	defer c.saversMu.Unlock()
	if sv := c.savers[h.Room()]; sv != nil && sv.h == h {
		return sv
	}
	if c.srv.ctx.Err() != nil {
		return nil
	}
	if old := c.savers[h.Room()]; old != nil {
		old.close() // the room was hosted here before, under another lease
	}
	sv := &roomSaver{c: c, h: h, kick: make(chan struct{}, 1), moved: make(chan struct{})}
	c.savers[h.Room()] = sv
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		sv.run()
	}()
	return sv
}

// stageEnd records, under the room's lock, that the room ended: its saver
// forgets it in Redis after any write in flight, and what is queued from
// now on waits for that. No I/O here.
func (c *clusterEdge) stageEnd(h *cluster.Hosted) {
	sv := c.saverOf(h)
	if sv == nil {
		// Shutting down: no saver to hand the end to. The room's lock is
		// held for this one write, as the server is stopping anyway.
		c.end(h)
		return
	}
	sv.mu.Lock()
	if sv.ending == 0 {
		sv.staged++
		sv.ending = sv.staged
	}
	end := sv.ending
	sv.mu.Unlock()
	if !c.store.Up() {
		sv.release(end) // as stage: nothing waits on a Redis that is down
	}
	select {
	case sv.kick <- struct{}{}:
	default:
	}
}

// finish is the saver's last write: the room ended, so it forgets the
// room in Redis (retrying in the background while Redis is down), lets
// everything queued go out and stops.
func (sv *roomSaver) finish() {
	c := sv.c
	switch err := sv.h.End(c.srv.ctx); {
	case err == nil, errors.Is(err, cluster.ErrFenced):
		// Forgotten, or another node holds the room: nothing to undo here.
	case errors.Is(err, cluster.ErrUnavailable):
		c.retryEnd(sv.h)
	case c.srv.ctx.Err() == nil:
		c.srv.log.Warn("cluster: forget an ended room", "room", sv.h.Room(), "err", err)
	}
	c.saversMu.Lock()
	if c.savers[sv.h.Room()] == sv {
		delete(c.savers, sv.h.Room())
	}
	c.saversMu.Unlock()
	sv.close()
}

// dropSaver stops the room's saver (the room ended or left this node);
// frames still waiting on it go out.
func (c *clusterEdge) dropSaver(room string) {
	c.saversMu.Lock()
	sv := c.savers[room]
	delete(c.savers, room)
	c.saversMu.Unlock()
	if sv != nil {
		sv.close()
	}
}

// run writes staged states until the saver closes or the server stops.
func (sv *roomSaver) run() {
	ctx := sv.c.srv.ctx
	for {
		select {
		case <-ctx.Done():
			sv.close()
			return
		case <-sv.kick:
		}
		sv.mu.Lock()
		want, closed, ending := sv.staged, sv.closed, sv.ending
		sv.mu.Unlock()
		if closed {
			return
		}
		if ending != 0 {
			sv.finish()
			return
		}
		err := sv.h.Flush(ctx)
		if err != nil && !errors.Is(err, cluster.ErrUnavailable) && ctx.Err() == nil {
			// ErrFenced: another node has the room; Config.Lost hands it
			// over. Either way nothing better can be done for these frames.
			sv.c.srv.log.Warn("cluster: save room state", "room", sv.h.Room(), "err", err)
		}
		sv.release(want)
	}
}

// release lets frames queued at versions up to v go out.
func (sv *roomSaver) release(v uint64) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if v <= sv.released {
		return
	}
	sv.released = v
	close(sv.moved)
	sv.moved = make(chan struct{})
}

// close releases every waiting frame and stops the saver's goroutine.
func (sv *roomSaver) close() {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if sv.closed {
		return
	}
	sv.closed = true
	close(sv.moved)
	sv.moved = make(chan struct{})
	select {
	case sv.kick <- struct{}{}: // wake run to see closed
	default:
	}
}
