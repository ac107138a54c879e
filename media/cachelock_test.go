package media

import (
	"sync"
	"sync/atomic"
	"testing"
)

// rwCache is the obvious alternative to Cache's per-slot locks — one
// RWMutex around the whole ring — kept here only so that
// BenchmarkCacheLocking can show why Cache does not use it.
type rwCache struct {
	mu    sync.RWMutex
	mask  uint16
	seqs  []uint16
	lens  []int
	buf   []byte
	valid []bool
}

func newRWCache(size int) *rwCache {
	return &rwCache{mask: uint16(size - 1), seqs: make([]uint16, size), lens: make([]int, size),
		buf: make([]byte, size*MaxPacketSize), valid: make([]bool, size)}
}

func (c *rwCache) put(seq uint16, p []byte) {
	i := int(seq & c.mask)
	c.mu.Lock()
	c.seqs[i], c.valid[i] = seq, true
	c.lens[i] = copy(c.buf[i*MaxPacketSize:], p)
	c.mu.Unlock()
}

func (c *rwCache) get(seq uint16, dst []byte) (int, bool) {
	i := int(seq & c.mask)
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.valid[i] || c.seqs[i] != seq {
		return 0, false
	}
	return copy(dst, c.buf[i*MaxPacketSize:i*MaxPacketSize+c.lens[i]]), true
}

// BenchmarkCacheLocking compares readers (viewers' NACKs) running in parallel
// with one writer on Cache and on a single-RWMutex ring.
func BenchmarkCacheLocking(b *testing.B) {
	p := make([]byte, 1200)
	type impl struct {
		put func(uint16, []byte)
		get func(uint16, []byte) (int, bool)
	}
	c, rw := NewCache(1024), newRWCache(1024)
	for name, im := range map[string]impl{
		"per-slot": {c.Put, c.Get},
		"rwmutex":  {rw.put, rw.get},
	} {
		b.Run(name, func(b *testing.B) {
			var latest atomic.Uint32
			for i := 0; i < 1024; i++ {
				im.put(uint16(i), p)
				latest.Store(uint32(i))
			}
			stop, done := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(done)
				for seq := uint16(1024); ; seq++ {
					select {
					case <-stop:
						return
					default:
					}
					im.put(seq, p)
					latest.Store(uint32(seq))
				}
			}()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				dst := make([]byte, MaxPacketSize)
				k := uint16(0)
				for pb.Next() {
					// Viewers ask for recent packets, within the window.
					im.get(uint16(latest.Load())-k%512, dst)
					k += 7
				}
			})
			close(stop)
			<-done
		})
	}
}
