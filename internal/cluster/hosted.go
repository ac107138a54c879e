package cluster

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"
)

// Hosted is this node's hold on one room: the lease, and the room's state
// on its way to Redis.
//
// Saving is split in two so a room never waits on Redis under its own
// lock: Stage (cheap, no I/O) takes the new blob in change order under the
// room's lock, Flush (one round trip) writes the newest staged blob after
// the lock is released. Concurrent flushes coalesce: a flush that finds a
// newer blob already written returns at once. A flush that cannot reach
// Redis leaves the blob staged; the node's tick writes it when Redis is
// back, so the room keeps running meanwhile.
type Hosted struct {
	n     *Node
	lease Lease
	// restored is the state found when the lease was won (a takeover, or a
	// room reopened on this node), nil for a new room.
	restored *Saved

	mu         sync.Mutex
	staged     uint64 // version of blob
	blob       []byte
	persisted  uint64 // newest version Redis has acknowledged
	validUntil time.Time
	lost       bool

	flushMu sync.Mutex // one write in flight per room, in version order
}

// Room is the room's id.
func (h *Hosted) Room() string { return h.lease.Room }

// Lease is the lease this node holds (its fence included).
func (h *Hosted) Lease() Lease { return h.lease }

// Restored is the saved state found when this node won the lease: the room
// to rebuild (seat.Restore after DecodeState). ok is false for a new room.
func (h *Hosted) Restored() (Saved, bool) {
	if h.restored == nil {
		return Saved{}, false
	}
	return *h.restored, true
}

// Stage takes blob as the room's newest state and returns its version.
// Call it in change order (under the room's own lock); it does no I/O. A
// blob equal to the last one is no change (an audience member joining
// leaves the durable state as it was): it keeps its version and costs no
// write.
func (h *Hosted) Stage(blob []byte) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.blob != nil && bytes.Equal(blob, h.blob) {
		return h.staged
	}
	h.staged++
	h.blob = blob
	return h.staged
}

// Flush writes the newest staged state. nil once Redis holds a version at
// least as new as the one staged when Flush was called. ErrFenced: another
// node holds the room (the node forgets it and calls Config.Lost).
// ErrUnavailable: the state stays staged and the node's tick retries.
func (h *Hosted) Flush(ctx context.Context) error {
	h.mu.Lock()
	want, lost := h.staged, h.lost
	h.mu.Unlock()
	if lost {
		return ErrFenced
	}
	h.flushMu.Lock()
	defer h.flushMu.Unlock()
	h.mu.Lock()
	version, blob, done := h.staged, h.blob, h.persisted >= want
	lost = h.lost // ended (or lost) while this flush waited for the one before
	h.mu.Unlock()
	if lost {
		return ErrFenced
	}
	if done {
		return nil
	}
	start := h.n.cfg.Clock.Now()
	_, err := h.n.store.Save(ctx, h.lease, h.n.cfg.LeaseTTL, version, blob)
	switch {
	case err == nil:
		h.mu.Lock()
		h.persisted = max(h.persisted, version)
		h.validUntil = start.Add(h.n.cfg.LeaseTTL)
		h.mu.Unlock()
	case errors.Is(err, ErrFenced):
		h.n.lose(h)
	}
	return err
}

// Save is Stage then Flush, for callers that hold no lock of their own.
func (h *Hosted) Save(ctx context.Context, blob []byte) error {
	h.Stage(blob)
	return h.Flush(ctx)
}

// Dirty reports whether a staged state has not reached Redis yet.
func (h *Hosted) Dirty() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.persisted < h.staged
}

// Held reports whether, by this node's clock, the lease is still surely
// its own: Redis acknowledged it less than LeaseTTL ago. After that,
// another node may have taken the room over (if Redis is reachable to it);
// the room keeps running here until a renewal says ErrFenced.
func (h *Hosted) Held() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.lost && h.n.cfg.Clock.Now().Before(h.validUntil)
}

// Lost reports whether this node no longer hosts the room: another node
// took it over, or it ended, or it was drained.
func (h *Hosted) Lost() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lost
}

// End forgets the ended room in Redis and on this node.
func (h *Hosted) End(ctx context.Context) error {
	h.flushMu.Lock()
	defer h.flushMu.Unlock()
	// Marked before the lease goes: a renewal already in flight that finds
	// it gone must not report an ended room as lost (it did, 1 run in 10).
	h.mu.Lock()
	wasLost := h.lost
	h.lost = true
	h.mu.Unlock()
	err := h.n.store.End(ctx, h.lease, h.n.cfg.EndRetention)
	if err == nil || errors.Is(err, ErrFenced) {
		h.n.forget(h) // done with the room either way
		return err
	}
	h.mu.Lock()
	h.lost = wasLost // still ours: Redis did not answer
	h.mu.Unlock()
	return err
}

// renewed records a successful renewal started at start.
func (h *Hosted) renewed(start time.Time, stateKept bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.validUntil = start.Add(h.n.cfg.LeaseTTL)
	if !stateKept && h.blob != nil {
		// Redis lost the state (it came back empty): write it again.
		h.persisted = 0
	}
}
