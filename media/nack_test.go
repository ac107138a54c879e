package media

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
)

func TestLossDetectorRetriesAndGivesUp(t *testing.T) {
	d := NewLossDetector(LossConfig{FirstDelay: 10 * time.Millisecond, Interval: 50 * time.Millisecond, Retries: 2, MaxAge: time.Second})
	d.Push(100, t0)
	d.Push(101, t0)
	d.Push(104, t0) // 102, 103 lost
	if got := d.Missing(t0, nil); len(got) != 0 {
		t.Fatalf("NACK before FirstDelay: %v", got)
	}
	at := t0.Add(10 * time.Millisecond)
	if got := d.Missing(at, nil); !equalSeqs(got, []uint16{102, 103}) {
		t.Fatalf("first round %v", got)
	}
	if got := d.Missing(at.Add(49*time.Millisecond), nil); len(got) != 0 {
		t.Fatalf("retry before Interval: %v", got)
	}
	d.Push(103, at.Add(20*time.Millisecond)) // retransmission arrived
	at = at.Add(50 * time.Millisecond)
	if got := d.Missing(at, nil); !equalSeqs(got, []uint16{102}) {
		t.Fatalf("second round %v", got)
	}
	if got := d.Missing(at.Add(time.Hour), nil); len(got) != 0 {
		t.Fatalf("third NACK despite Retries=2: %v", got)
	}
	if d.GivenUp() != 1 {
		t.Fatalf("GivenUp = %d", d.GivenUp())
	}
}

func TestLossDetectorMaxAge(t *testing.T) {
	d := NewLossDetector(LossConfig{FirstDelay: time.Millisecond, Interval: 10 * time.Millisecond, Retries: 100, MaxAge: 100 * time.Millisecond})
	d.Push(1, t0)
	d.Push(3, t0)
	n := 0
	for at := t0; at.Before(t0.Add(time.Second)); at = at.Add(time.Millisecond) {
		n += len(d.Missing(at, nil))
	}
	if n < 9 || n > 11 { // every 10 ms for 100 ms
		t.Fatalf("%d NACKs for one packet over MaxAge 100 ms at 10 ms spacing", n)
	}
}

func TestLossDetectorWrapAndReorder(t *testing.T) {
	d := NewLossDetector(LossConfig{FirstDelay: time.Millisecond})
	d.Push(65534, t0)
	d.Push(1, t0) // 65535, 0 lost across the wrap
	d.Push(65535, t0)
	if got := d.Missing(t0.Add(time.Millisecond), nil); !equalSeqs(got, []uint16{0}) {
		t.Fatalf("missing %v", got)
	}
}

func TestLossDetectorJumpResets(t *testing.T) {
	d := NewLossDetector(LossConfig{FirstDelay: time.Millisecond})
	d.Push(10, t0)
	d.Push(12, t0)
	d.Push(30012, t0) // the sender restarted: no 30000 NACKs
	if got := d.Missing(t0.Add(time.Millisecond), nil); len(got) != 0 {
		t.Fatalf("missing after a jump: %d numbers", len(got))
	}
	d.Push(30014, t0)
	if got := d.Missing(t0.Add(time.Millisecond), nil); !equalSeqs(got, []uint16{30013}) {
		t.Fatalf("missing %v", got)
	}
	d.Push(5, t0) // a jump backwards resets too
	if d.Resets() != 2 {
		t.Fatalf("Resets = %d", d.Resets())
	}
	if got := d.Missing(t0.Add(time.Hour), nil); len(got) != 0 {
		t.Fatalf("missing after a backwards jump %v", got)
	}
}

func TestNackPairsRoundTrip(t *testing.T) {
	seqs := []uint16{65530, 65531, 65535, 0, 10, 30, 46, 47}
	pairs := AppendNackPairs(nil, seqs)
	want := []rtcp.NackPair{
		{PacketID: 65530, LostPackets: 1<<0 | 1<<4 | 1<<5 | 1<<15}, // 10 is 16 after 65530
		{PacketID: 30, LostPackets: 1 << 15},
		{PacketID: 47},
	}
	if len(pairs) != len(want) {
		t.Fatalf("pairs %v", pairs)
	}
	for i := range want {
		if pairs[i] != want[i] {
			t.Fatalf("pair %d = %+v, want %+v", i, pairs[i], want[i])
		}
	}
	if back := AppendNackSeqs(nil, pairs, 1000); !equalSeqs(back, seqs) {
		t.Fatalf("round trip %v", back)
	}
	if back := AppendNackSeqs(nil, pairs, 3); !equalSeqs(back, seqs[:3]) {
		t.Fatalf("bounded decode %v", back)
	}
	// Unsorted input still names every number.
	if back := AppendNackSeqs(nil, AppendNackPairs(nil, []uint16{5, 3, 3, 4}), 100); !equalSeqs(back, []uint16{5, 3, 3, 4}) {
		t.Fatalf("unsorted round trip %v", back)
	}
}

// FuzzLossDetector: arbitrary arrivals never NACK a number that arrived after
// it was last pushed, never more than Retries times, and the detector's
// answers stay bounded.
func FuzzLossDetector(f *testing.F) {
	f.Add([]byte{0, 1, 0, 5, 0, 3, 117, 48, 0, 7})
	f.Fuzz(func(t *testing.T, ops []byte) {
		d := NewLossDetector(LossConfig{FirstDelay: time.Millisecond, Interval: 2 * time.Millisecond, Retries: 2, MaxAge: 50 * time.Millisecond})
		at := t0
		// A model of what a gap means: numbers skipped over by the newest
		// arrival are missing until they arrive; a jump over MaxJump forgets all.
		arrived := map[uint16]bool{}
		nacks := map[uint16]int{}
		started := false
		var newest uint16
		for len(ops) >= 2 {
			seq := uint16(ops[0])<<8 | uint16(ops[1])
			ops = ops[2:]
			at = at.Add(time.Millisecond)
			delta := int(int16(seq - newest))
			switch {
			case !started || delta > 400 || delta < -400:
				clear(arrived)
				clear(nacks)
				newest, started = seq, true
			case delta > 0:
				for s := newest + 1; s != seq; s++ {
					delete(arrived, s)
					delete(nacks, s)
				}
				newest = seq
			}
			d.Push(seq, at)
			arrived[seq] = true
			got := d.Missing(at, nil)
			if len(got) > lossWindow {
				t.Fatalf("%d NACKs at once", len(got))
			}
			for _, s := range got {
				if arrived[s] {
					t.Fatalf("NACK for %d which arrived", s)
				}
				if int16(newest-s) <= 0 {
					t.Fatalf("NACK for %d, not behind the newest %d", s, newest)
				}
				nacks[s]++
				if nacks[s] > 2 {
					t.Fatalf("%d NACKed %d times", s, nacks[s])
				}
			}
		}
	})
}

func FuzzNackPairs(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 0, 40, 255, 255})
	f.Fuzz(func(t *testing.T, raw []byte) {
		var seqs []uint16
		for i := 0; i+1 < len(raw); i += 2 {
			seqs = append(seqs, uint16(raw[i])<<8|uint16(raw[i+1]))
		}
		pairs := AppendNackPairs(nil, seqs)
		if len(pairs) > len(seqs) {
			t.Fatal("more pairs than numbers")
		}
		// The same set of numbers comes back (order and duplicates may differ
		// for unsorted input).
		back := AppendNackSeqs(nil, pairs, 17*len(pairs))
		want := map[uint16]bool{}
		for _, s := range seqs {
			want[s] = true
		}
		got := map[uint16]bool{}
		for _, s := range back {
			got[s] = true
		}
		if len(got) != len(want) {
			t.Fatalf("round trip %v → %v", seqs, back)
		}
		for s := range want {
			if !got[s] {
				t.Fatalf("round trip lost %d", s)
			}
		}
	})
}

func BenchmarkLossDetector(b *testing.B) {
	d := NewLossDetector(LossConfig{})
	at := t0
	dst := make([]uint16, 0, lossWindow)
	b.ReportAllocs()
	seq := uint16(0)
	for b.Loop() {
		seq++
		if seq%50 == 0 {
			seq++ // 2 % loss
		}
		at = at.Add(time.Millisecond)
		d.Push(seq, at)
		if seq%20 == 0 {
			dst = d.Missing(at, dst[:0])
		}
	}
}
