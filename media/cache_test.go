package media

import (
	"bytes"
	"encoding/binary"
	"math"
	"sync"
	"testing"
	"time"
)

// packetFor builds a recognisable payload for seq, of length n.
func packetFor(seq uint16, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(int(seq) + i)
	}
	if n >= 2 {
		binary.BigEndian.PutUint16(p, seq)
	}
	return p
}

func TestCacheSizeRounding(t *testing.T) {
	for _, c := range []struct{ in, want int }{
		{-5, 64}, {0, 64}, {64, 64}, {65, 128}, {500, 512}, {1024, 1024}, {4096, 4096}, {1 << 20, 4096},
	} {
		if got := NewCache(c.in).Size(); got != c.want {
			t.Errorf("NewCache(%d).Size() = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestCacheSizeFor(t *testing.T) {
	for _, c := range []struct {
		pps  float64
		rtt  time.Duration
		want int
	}{
		{50, 20 * time.Millisecond, 64},      // audio: 50 × 0.46 s = 23
		{400, 0, 256},                        // loopback video: 400 × 0.4 s = 160
		{1000, 100 * time.Millisecond, 1024}, // 1000 × 0.7 s = 700
		{3000, 300 * time.Millisecond, 4096},
		{1e12, time.Hour, 4096},
		{0, time.Second, 64},
		{-1, time.Second, 64},
		{math.NaN(), time.Second, 64},
		{math.Inf(1), time.Second, 4096},
		{100, -time.Second, 64},
	} {
		if got := CacheSizeFor(c.pps, c.rtt); got != c.want {
			t.Errorf("CacheSizeFor(%v, %v) = %d, want %d", c.pps, c.rtt, got, c.want)
		}
	}
}

func TestCachePutGet(t *testing.T) {
	c := NewCache(64)
	dst := make([]byte, MaxPacketSize)
	if _, ok := c.Get(1, dst); ok {
		t.Fatal("Get on an empty cache")
	}
	for seq := uint16(65500); seq != 100; seq++ { // crosses the wrap
		c.Put(seq, packetFor(seq, 100+int(seq%50)))
	}
	// The last 64 are there, byte for byte.
	for seq := uint16(100 - 64); seq != 100; seq++ {
		n, ok := c.Get(seq, dst)
		if !ok || !bytes.Equal(dst[:n], packetFor(seq, 100+int(seq%50))) {
			t.Fatalf("Get(%d) = %d %v", seq, n, ok)
		}
	}
	// Older ones are evicted, newer ones never seen.
	for _, seq := range []uint16{100 - 65, 65500, 100, 101, 30000} {
		if _, ok := c.Get(seq, dst); ok {
			t.Fatalf("Get(%d) found a packet", seq)
		}
	}
	// dst too short: refused rather than truncated.
	if _, ok := c.Get(99, dst[:10]); ok {
		t.Fatal("Get into a short buffer succeeded")
	}
}

func TestCacheGapsAndLatePackets(t *testing.T) {
	c := NewCache(64)
	dst := make([]byte, MaxPacketSize)
	c.Put(1000, packetFor(1000, 10))
	c.Put(1002, packetFor(1002, 10)) // 1001 lost
	if _, ok := c.Get(1001, dst); ok {
		t.Fatal("lost packet found")
	}
	c.Put(1001, packetFor(1001, 10)) // retransmission arrives late
	if n, ok := c.Get(1001, dst); !ok || !bytes.Equal(dst[:n], packetFor(1001, 10)) {
		t.Fatal("late packet not kept")
	}
	// A packet older than the cache's window must not overwrite a newer slot.
	c.Put(1002-64, packetFor(1002-64, 10))
	if n, ok := c.Get(1002, dst); !ok || !bytes.Equal(dst[:n], packetFor(1002, 10)) {
		t.Fatal("too-old packet overwrote a newer one")
	}
	// A 16-bit wrap later, the same sequence number is a different packet:
	// the one stored 65536 numbers ago must not be served.
	for i := 1; i <= 65536/64; i++ {
		seq := uint16(1002 + 64*i)
		c.Put(seq, packetFor(seq, 11))
	}
	if _, ok := c.Get(1000, dst); ok {
		t.Fatal("a wrapped packet was served")
	}
}

func TestCacheTooBig(t *testing.T) {
	c := NewCache(64)
	c.Put(1, make([]byte, MaxPacketSize+1))
	c.Put(2, make([]byte, MaxPacketSize))
	if c.TooBig() != 1 {
		t.Fatalf("TooBig = %d", c.TooBig())
	}
	dst := make([]byte, 2000)
	if _, ok := c.Get(1, dst); ok {
		t.Fatal("oversized packet stored")
	}
	if n, ok := c.Get(2, dst); !ok || n != MaxPacketSize {
		t.Fatal("a full-MTU packet was not stored")
	}
}

// One writer and several readers: every packet a reader gets must be the
// packet of the number it asked for (run with -race).
func TestCacheConcurrentReaders(t *testing.T) {
	c := NewCache(128)
	const total = 20000
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan string, 4)
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := make([]byte, MaxPacketSize)
			for seq := uint16(0); ; seq += 7 {
				select {
				case <-done:
					return
				default:
				}
				if n, ok := c.Get(seq, dst); ok && !bytes.Equal(dst[:n], packetFor(seq, 200)) {
					errs <- "torn or wrong packet"
					return
				}
			}
		}()
	}
	for i := 0; i < total; i++ {
		c.Put(uint16(i), packetFor(uint16(i), 200))
	}
	close(done)
	wg.Wait()
	select {
	case e := <-errs:
		t.Fatal(e)
	default:
	}
}

// FuzzCache checks the cache against a map model: whatever the order of
// sequence numbers, a hit returns exactly the bytes last stored for that
// number within the window.
func FuzzCache(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 0, 3, 255, 255, 0, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		c := NewCache(64)
		model := map[uint16][]byte{}
		dst := make([]byte, MaxPacketSize)
		for len(ops) >= 3 {
			seq := binary.BigEndian.Uint16(ops)
			size := int(ops[2]) * 7
			ops = ops[3:]
			p := packetFor(seq, size)
			tooBig := c.TooBig()
			c.Put(seq, p)
			if size > MaxPacketSize {
				// Refused: counted, and whatever was stored stays.
				if c.TooBig() != tooBig+1 {
					t.Fatal("oversized packet not counted")
				}
				continue
			}
			model[seq] = p
			for s := range model {
				if n, ok := c.Get(s, dst); ok && !bytes.Equal(dst[:n], model[s]) {
					t.Fatalf("Get(%d) returned another packet's bytes", s)
				}
			}
			if n, ok := c.Get(seq, dst); ok && !bytes.Equal(dst[:n], p) {
				t.Fatalf("Get(%d) right after Put differs", seq)
			}
		}
	})
}

func BenchmarkCachePut(b *testing.B) {
	c := NewCache(1024)
	p := make([]byte, 1200)
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	seq := uint16(0)
	for b.Loop() {
		c.Put(seq, p)
		seq++
	}
}

func BenchmarkCacheGet(b *testing.B) {
	c := NewCache(1024)
	p := make([]byte, 1200)
	for i := 0; i < 1024; i++ {
		c.Put(uint16(i), p)
	}
	dst := make([]byte, MaxPacketSize)
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	seq := uint16(0)
	for b.Loop() {
		c.Get(seq&1023, dst)
		seq++
	}
}

// BenchmarkCacheGetParallel measures readers while one writer keeps putting.
func BenchmarkCacheGetParallel(b *testing.B) {
	c := NewCache(1024)
	p := make([]byte, 1200)
	for i := 0; i < 1024; i++ {
		c.Put(uint16(i), p)
	}
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		seq := uint16(1024)
		for {
			select {
			case <-stop:
				return
			default:
			}
			c.Put(seq, p)
			seq++
		}
	}()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		dst := make([]byte, MaxPacketSize)
		seq := uint16(0)
		for pb.Next() {
			c.Get(uint16(c.newest.Load())-seq%512, dst)
			seq++
		}
	})
	close(stop)
	<-writerDone
}
