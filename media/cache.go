package media

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds of a Cache, in packets. The lower bound keeps a few round trips of
// audio; the upper one is ~6 MB of video slots per up-track.
const (
	MinCacheSize = 64
	MaxCacheSize = 4096
	// MaxPacketSize is the largest packet a cache keeps: an Ethernet MTU.
	// Larger ones cannot have crossed the network unfragmented anyway.
	MaxPacketSize = 1500
)

// Cache keeps the last N packets of one up-track so that every viewer's NACK
// can be answered from one shared copy. One goroutine writes (the up-track's
// reader); any number read concurrently.
//
// Each slot has its own small lock instead of one RWMutex for the cache:
// readers of different packets then never touch a shared cache line, and the
// writer only waits for a reader copying the very slot it overwrites.
type Cache struct {
	mask  uint16
	slots []cacheSlot
	buf   []byte // len(slots) × MaxPacketSize, carved once

	// Writer state; newest is also read by Get, hence atomic.
	started bool
	newest  atomic.Int64 // extended sequence number of the newest packet
	tooBig  atomic.Uint64
}

type cacheSlot struct {
	mu  sync.Mutex
	ext int64 // extended seq held, or -1 when empty
	n   int
}

// NewCache returns a cache for size packets, rounded up to a power of two and
// bounded to MinCacheSize..MaxCacheSize. All memory is allocated here.
func NewCache(size int) *Cache {
	size = roundCacheSize(size)
	c := &Cache{
		mask:  uint16(size - 1),
		slots: make([]cacheSlot, size),
		buf:   make([]byte, size*MaxPacketSize),
	}
	for i := range c.slots {
		c.slots[i].ext = -1
	}
	return c
}

func roundCacheSize(size int) int {
	if size <= MinCacheSize {
		return MinCacheSize
	}
	if size >= MaxCacheSize {
		return MaxCacheSize
	}
	return 1 << bits.Len(uint(size-1))
}

// CacheSizeFor sizes a cache for a stream of pps packets per second whose
// viewers are rtt away. A lost packet is NACKed after loss detection
// (~100 ms) and may be asked for again up to three times, each a round trip
// plus the receiver's retry spacing apart — 100 ms for Pion's NACK generator
// whatever the RTT, so a loopback-close viewer still needs ~0.4 s of packets
// (a window of 3·RTT + 0.1 s lost a packet in 400 at 5 % loss: measured by
// sfu/nettest). The result is what NewCache will actually allocate.
func CacheSizeFor(pps float64, rtt time.Duration) int {
	if pps != pps || pps <= 0 || rtt < 0 { // NaN or nonsense: the minimum
		return MinCacheSize
	}
	const detect, retry = 0.1, 0.1 // seconds
	window := detect + 3*(rtt.Seconds()+retry)
	n := pps * window
	if n >= MaxCacheSize {
		return MaxCacheSize
	}
	return roundCacheSize(int(n) + 1)
}

// Size is the number of packets the cache holds.
func (c *Cache) Size() int { return len(c.slots) }

// Put stores a copy of pkt as sequence number seq. Packets larger than
// MaxPacketSize are dropped and counted (TooBig); so is a packet so old that
// its slot already holds a newer one. Put must only be called by one
// goroutine.
func (c *Cache) Put(seq uint16, pkt []byte) {
	if len(pkt) > MaxPacketSize {
		c.tooBig.Add(1)
		return
	}
	newest := c.newest.Load()
	var ext int64
	if !c.started {
		// Start well above zero so that late packets before the first one
		// still have a positive extended number.
		ext = 1<<32 + int64(seq)
		c.started = true
		c.newest.Store(ext)
	} else {
		ext = newest + int64(int16(seq-uint16(newest)))
		if ext > newest {
			c.newest.Store(ext)
		} else if newest-ext >= int64(len(c.slots)) {
			return // older than everything the cache still covers
		}
	}
	i := int(seq & c.mask)
	s := &c.slots[i]
	s.mu.Lock()
	s.ext = ext
	s.n = copy(c.buf[i*MaxPacketSize:(i+1)*MaxPacketSize], pkt)
	s.mu.Unlock()
}

// Get copies packet seq into dst and returns its length. It reports false if
// the packet was never stored, has been evicted by newer ones, or dst is too
// short to hold it.
func (c *Cache) Get(seq uint16, dst []byte) (int, bool) {
	newest := c.newest.Load()
	if newest == 0 {
		return 0, false
	}
	ext := newest + int64(int16(seq-uint16(newest)))
	if ext > newest || newest-ext >= int64(len(c.slots)) {
		return 0, false
	}
	i := int(seq & c.mask)
	s := &c.slots[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ext != ext || len(dst) < s.n {
		return 0, false
	}
	return copy(dst, c.buf[i*MaxPacketSize:i*MaxPacketSize+s.n]), true
}

// Newest is the sequence number of the newest packet stored; ok is false
// before the first one.
func (c *Cache) Newest() (seq uint16, ok bool) {
	n := c.newest.Load()
	return uint16(n), n != 0
}

// TooBig counts the packets Put refused for exceeding MaxPacketSize.
func (c *Cache) TooBig() uint64 { return c.tooBig.Load() }
