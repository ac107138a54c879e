package media

import (
	"bytes"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
)

func replayed(g *GOPCache) []uint16 {
	var seqs []uint16
	g.Replay(func(p []byte) bool {
		seqs = append(seqs, binary.BigEndian.Uint16(p))
		return true
	})
	return seqs
}

func equalSeqs(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestGOPCacheKeepsFromLastKeyframe(t *testing.T) {
	g := NewGOPCache(16, 4096)
	if g.Valid() || len(replayed(g)) != 0 {
		t.Fatal("empty cache claims a start")
	}
	g.Push(1, packetFor(1, 50), false) // before any keyframe: useless
	if g.Valid() {
		t.Fatal("valid without a keyframe")
	}
	for seq := uint16(2); seq <= 5; seq++ {
		g.Push(seq, packetFor(seq, 50), seq == 2)
	}
	if !g.Valid() || !equalSeqs(replayed(g), []uint16{2, 3, 4, 5}) {
		t.Fatalf("replay %v", replayed(g))
	}
	g.Push(6, packetFor(6, 50), true)
	g.Push(4, packetFor(4, 50), false) // late packet of the previous group
	g.Push(7, packetFor(7, 50), false)
	if got := replayed(g); !equalSeqs(got, []uint16{6, 7}) {
		t.Fatalf("after a new keyframe replay %v", got)
	}
	// Bytes are exact.
	g.Replay(func(p []byte) bool {
		seq := binary.BigEndian.Uint16(p)
		if !bytes.Equal(p, packetFor(seq, 50)) {
			t.Fatalf("packet %d corrupted", seq)
		}
		return true
	})
	// Early stop.
	if n := g.Replay(func([]byte) bool { return false }); n != 1 {
		t.Fatalf("replay after stop passed %d", n)
	}
}

func TestGOPCacheOverflowEmptiesUntilKeyframe(t *testing.T) {
	g := NewGOPCache(4, 1000)
	for seq := uint16(10); seq < 15; seq++ { // 5 packets > 4
		g.Push(seq, packetFor(seq, 10), seq == 10)
	}
	if g.Valid() || len(replayed(g)) != 0 {
		t.Fatal("overflowed group still replayed")
	}
	g.Push(15, packetFor(15, 10), false)
	if g.Valid() {
		t.Fatal("valid again without a keyframe")
	}
	g.Push(16, packetFor(16, 10), true)
	if !g.Valid() || !equalSeqs(replayed(g), []uint16{16}) {
		t.Fatal("no recovery at the next keyframe")
	}
	// Byte bound.
	g.Push(17, packetFor(17, 600), false)
	g.Push(18, packetFor(18, 600), false)
	if g.Valid() {
		t.Fatal("byte bound not enforced")
	}
	// A single keyframe packet larger than the whole budget.
	g.Push(19, packetFor(19, 1001), true)
	if g.Valid() {
		t.Fatal("oversized keyframe kept")
	}
}

// A replay in progress keeps reading its own group, intact, while the pusher
// moves on to new keyframes (run with -race).
func TestGOPCacheReplayDuringPush(t *testing.T) {
	g := NewGOPCache(64, 64*200)
	g.Push(0, packetFor(0, 200), true)
	for seq := uint16(1); seq < 10; seq++ {
		g.Push(seq, packetFor(seq, 200), false)
	}
	var wg sync.WaitGroup
	started := make(chan struct{})
	release := make(chan struct{})
	var got []uint16
	wg.Add(1)
	go func() {
		defer wg.Done()
		first := true
		g.Replay(func(p []byte) bool {
			if first {
				close(started)
				<-release
				first = false
			}
			seq := binary.BigEndian.Uint16(p)
			if !bytes.Equal(p, packetFor(seq, 200)) {
				t.Errorf("packet %d changed under a replay", seq)
			}
			got = append(got, seq)
			return true
		})
	}()
	<-started
	// Two new groups while the replay is parked on its first packet.
	for seq := uint16(10); seq < 40; seq++ {
		g.Push(seq, packetFor(seq, 200), seq%15 == 10)
	}
	close(release)
	wg.Wait()
	want := []uint16{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	if !equalSeqs(got, want) {
		t.Fatalf("replay saw %v", got)
	}
	if r := replayed(g); len(r) == 0 || r[0] != 25 {
		t.Fatalf("current group %v", r)
	}
}

func TestGOPCacheConcurrent(t *testing.T) {
	g := NewGOPCache(32, 32*100)
	var wg sync.WaitGroup
	done := make(chan struct{})
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				var prev int = -1
				g.Replay(func(p []byte) bool {
					seq := binary.BigEndian.Uint16(p)
					if !bytes.Equal(p, packetFor(seq, 100)) {
						t.Errorf("corrupt packet %d", seq)
					}
					if prev >= 0 && uint16(prev)+1 != seq {
						t.Errorf("replay out of order: %d after %d", seq, prev)
					}
					prev = int(seq)
					return true
				})
			}
		}()
	}
	for i := 0; i < 20000; i++ {
		seq := uint16(i)
		g.Push(seq, packetFor(seq, 100), i%20 == 0)
	}
	close(done)
	wg.Wait()
}

// A new keyframe replaces the group in one step: a replay running alongside
// the pusher never finds the cache empty, which would tell a paced replay the
// group overflowed and make it start over on the next keyframe, skipping the
// whole backlog (pace.go). Run with -race; every second packet is a keyframe
// so the hand-over happens thousands of times.
func TestGOPCacheNeverEmptyAcrossAKeyframe(t *testing.T) {
	g := NewGOPCache(32, 32*100)
	g.Push(0, packetFor(0, 100), true)
	var wg sync.WaitGroup
	done := make(chan struct{})
	var empty atomic.Int64
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if g.Replay(func([]byte) bool { return true }) == 0 || !g.Valid() {
					empty.Add(1)
				}
			}
		}()
	}
	for i := 1; i < 20000; i++ {
		seq := uint16(i)
		g.Push(seq, packetFor(seq, 100), i%2 == 0)
	}
	close(done)
	wg.Wait()
	if n := empty.Load(); n > 0 {
		t.Fatalf("%d replays found the cache empty while it always held a group", n)
	}
}

// FuzzGOPCache: whatever is pushed, a replay starts on a keyframe, is in
// push order and stays within bounds.
func FuzzGOPCache(f *testing.F) {
	f.Add([]byte{1, 0, 10, 0, 0, 10, 1, 0, 200})
	f.Fuzz(func(t *testing.T, ops []byte) {
		g := NewGOPCache(8, 2000)
		for len(ops) >= 3 {
			key := ops[0]&1 == 1
			seq := uint16(ops[1])
			size := int(ops[2]) * 4
			ops = ops[3:]
			if size < 3 {
				size = 3
			}
			p := packetFor(seq, size)
			if key {
				p[2] = 0xff
			} else {
				p[2] = 0
			}
			g.Push(seq, p, key)
			n, total := 0, 0
			g.Replay(func(p []byte) bool {
				if n == 0 && p[2] != 0xff {
					t.Fatal("replay does not start on a keyframe")
				}
				n++
				total += len(p)
				return true
			})
			if n > 8 || total > 2000 {
				t.Fatalf("bounds exceeded: %d packets %d bytes", n, total)
			}
			if g.Valid() != (n > 0) {
				t.Fatal("Valid disagrees with Replay")
			}
		}
	})
}

func BenchmarkGOPCachePush(b *testing.B) {
	g := NewGOPCache(0, 0)
	p := make([]byte, 1200)
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	seq := uint16(0)
	for b.Loop() {
		g.Push(seq, p, seq%300 == 0) // a keyframe every 300 packets
		seq++
	}
}
