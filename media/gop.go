package media

import (
	"sync"
	"sync/atomic"
)

// Default bounds of a GOPCache: a couple of seconds of 2–3 Mbit/s video.
const (
	DefaultGOPPackets = 1024
	DefaultGOPBytes   = 1 << 20
)

// GOPCache keeps the packets of the latest keyframe and every packet after
// it, so a new viewer, or a slot switched to this source, can be fed a
// decodable start at once instead of waiting for the next keyframe.
//
// It is bounded by packet count and bytes; once either would be exceeded the
// cache empties and stays empty until the next keyframe (a partial group of
// pictures is useless to a decoder). One goroutine pushes; any number replay
// concurrently, and a slow replay never blocks the pusher.
type GOPCache struct {
	maxPackets int
	maxBytes   int

	mu  sync.RWMutex
	cur *gopArena
}

// gopArena is one group of pictures: packets appended into one buffer.
// Entries below a reader's snapshot of count are never rewritten while that
// reader is registered in readers; the pusher reuses the arena for the next
// keyframe only when no reader holds it, and otherwise starts a fresh one.
type gopArena struct {
	buf     []byte
	entries []gopEntry
	count   int    // published entries (guarded by GOPCache.mu)
	used    int    // bytes of buf in use (pusher only)
	first   uint16 // sequence number of the keyframe's first packet
	valid   bool
	readers atomic.Int32
}

type gopEntry struct {
	off, len int
}

// NewGOPCache returns a cache bounded to maxPackets packets and maxBytes
// bytes; non-positive values take the defaults.
func NewGOPCache(maxPackets, maxBytes int) *GOPCache {
	if maxPackets <= 0 {
		maxPackets = DefaultGOPPackets
	}
	if maxBytes <= 0 {
		maxBytes = DefaultGOPBytes
	}
	g := &GOPCache{maxPackets: maxPackets, maxBytes: maxBytes}
	g.cur = g.newArena()
	return g
}

func (g *GOPCache) newArena() *gopArena {
	return &gopArena{
		buf:     make([]byte, g.maxBytes),
		entries: make([]gopEntry, g.maxPackets),
	}
}

// Push records one packet of the up-track (pkt is the whole RTP packet, seq
// its sequence number). keyframeStart marks the first
// packet of a keyframe (see IsKeyframe): it discards the previous group and
// starts a new one. Packets before the first keyframe, and after an overflow
// until the next keyframe, are not kept. Push must only be called by one
// goroutine; it allocates only when a new keyframe arrives while a replay
// still reads the previous group.
func (g *GOPCache) Push(seq uint16, pkt []byte, keyframeStart bool) {
	if keyframeStart {
		g.startGroup(seq, pkt)
		return
	}
	a := g.cur
	if !a.valid || int16(seq-a.first) < 0 {
		return // no keyframe yet, or a late packet of the previous group
	}
	if a.count == len(a.entries) || len(pkt) > len(a.buf)-a.used {
		g.mu.Lock()
		a.valid = false
		a.count = 0
		g.mu.Unlock()
		return
	}
	// Write beyond every reader's snapshot, then publish.
	n := copy(a.buf[a.used:], pkt)
	a.entries[a.count] = gopEntry{off: a.used, len: n}
	a.used += n
	g.mu.Lock()
	a.count++
	g.mu.Unlock()
}

// startGroup replaces the group with a new one holding only pkt, in one
// step under the lock: a replay sees the old group or the new one, never an
// empty cache in between (an empty cache tells a replay the group overflowed,
// and it would give up on the whole group).
func (g *GOPCache) startGroup(seq uint16, pkt []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	a := g.cur
	if a.readers.Load() > 0 {
		a = g.newArena()
		g.cur = a
	}
	a.count, a.used, a.first = 0, 0, seq
	a.valid = len(pkt) <= len(a.buf) && len(a.entries) > 0
	if !a.valid {
		return // a keyframe packet larger than the whole budget
	}
	a.used = copy(a.buf, pkt)
	a.entries[0] = gopEntry{off: 0, len: a.used}
	a.count = 1
}

// Valid reports whether the cache holds a decodable start (a keyframe and
// what followed it).
func (g *GOPCache) Valid() bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.cur.valid && g.cur.count > 0
}

// Replay calls fn with each cached packet, oldest first, until fn returns
// false, and returns how many packets it passed. fn must not keep pkt after it
// returns, nor modify it. Packets pushed during the replay are not included:
// the caller forwards those live.
func (g *GOPCache) Replay(fn func(pkt []byte) bool) int {
	g.mu.RLock()
	a := g.cur
	n := 0
	if a.valid {
		n = a.count
	}
	a.readers.Add(1)
	g.mu.RUnlock()
	defer a.readers.Add(-1)

	for i := 0; i < n; i++ {
		e := a.entries[i]
		if !fn(a.buf[e.off : e.off+e.len]) {
			return i + 1
		}
	}
	return n
}
