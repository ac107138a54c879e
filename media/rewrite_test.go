package media

import (
	"testing"
	"time"

	"github.com/pion/rtp"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// feed rewrites one packet and returns the header as sent and the verdict.
func feed(w *Rewriter, ssrc uint32, seq uint16, ts uint32, at time.Time) (rtp.Header, bool) {
	h := rtp.Header{SSRC: ssrc, SequenceNumber: seq, Timestamp: ts}
	ok := w.Rewrite(&h, at)
	return h, ok
}

func mustFeed(t *testing.T, w *Rewriter, ssrc uint32, seq uint16, ts uint32, at time.Time) rtp.Header {
	t.Helper()
	h, ok := feed(w, ssrc, seq, ts, at)
	if !ok {
		t.Fatalf("packet ssrc=%d seq=%d refused", ssrc, seq)
	}
	return h
}

func TestRewriterFirstSourceKeepsNumbers(t *testing.T) {
	w := NewRewriter(777, 90000)
	h := mustFeed(t, w, 1, 1000, 5000, t0)
	if h.SSRC != 777 || h.SequenceNumber != 1000 || h.Timestamp != 5000 {
		t.Fatalf("got %+v", h)
	}
	h = mustFeed(t, w, 1, 1001, 8000, t0.Add(33*time.Millisecond))
	if h.SequenceNumber != 1001 || h.Timestamp != 8000 {
		t.Fatalf("got %+v", h)
	}
}

func TestRewriterSourceChangeContinues(t *testing.T) {
	w := NewRewriter(777, 90000)
	mustFeed(t, w, 1, 1000, 5000, t0)
	mustFeed(t, w, 1, 1001, 8000, t0.Add(10*time.Millisecond))
	// A new source 100 ms after the last forwarded packet.
	h := mustFeed(t, w, 2, 40000, 123456, t0.Add(110*time.Millisecond))
	if h.SSRC != 777 {
		t.Fatalf("ssrc %d", h.SSRC)
	}
	if h.SequenceNumber != 1002 {
		t.Fatalf("seq %d, want 1002", h.SequenceNumber)
	}
	if want := uint32(8000 + 9000); h.Timestamp != want {
		t.Fatalf("ts %d, want %d", h.Timestamp, want)
	}
	h = mustFeed(t, w, 2, 40001, 123456+3000, t0.Add(140*time.Millisecond))
	if h.SequenceNumber != 1003 || h.Timestamp != 17000+3000 {
		t.Fatalf("got seq %d ts %d", h.SequenceNumber, h.Timestamp)
	}
	// The old source's stragglers are a source change too: they re-base
	// forwards, never backwards.
	h = mustFeed(t, w, 1, 1002, 11000, t0.Add(140*time.Millisecond))
	if h.SequenceNumber != 1004 || int32(h.Timestamp-20000) < 1 {
		t.Fatalf("straggler got seq %d ts %d", h.SequenceNumber, h.Timestamp)
	}
}

func TestRewriterGapAtLeastOneTick(t *testing.T) {
	w := NewRewriter(9, 48000)
	mustFeed(t, w, 1, 10, 100, t0)
	h := mustFeed(t, w, 2, 500, 7, t0) // same instant
	if h.Timestamp != 101 || h.SequenceNumber != 11 {
		t.Fatalf("got seq %d ts %d", h.SequenceNumber, h.Timestamp)
	}
	h = mustFeed(t, w, 3, 900, 7, t0.Add(-time.Second)) // clock went backwards
	if h.Timestamp != 102 || h.SequenceNumber != 12 {
		t.Fatalf("got seq %d ts %d", h.SequenceNumber, h.Timestamp)
	}
}

func TestRewriterLongSilenceStaysAhead(t *testing.T) {
	w := NewRewriter(9, 90000)
	mustFeed(t, w, 1, 10, 0xfffffff0, t0)
	h := mustFeed(t, w, 2, 10, 0, t0.Add(100*time.Hour))
	if d := int32(h.Timestamp - 0xfffffff0); d <= 0 {
		t.Fatalf("timestamp went backwards after a long silence: delta %d", d)
	}
}

func TestRewriterReorderWithinSource(t *testing.T) {
	w := NewRewriter(5, 90000)
	mustFeed(t, w, 1, 100, 1000, t0)
	mustFeed(t, w, 2, 65534, 50, t0.Add(time.Second)) // switch: maps 65534 → 101
	h := mustFeed(t, w, 2, 1, 3050, t0.Add(time.Second))
	if h.SequenceNumber != 104 { // 65534→101, 65535→102, 0→103, 1→104
		t.Fatalf("seq %d", h.SequenceNumber)
	}
	h = mustFeed(t, w, 2, 65535, 50, t0.Add(time.Second)) // late, across the wrap
	if h.SequenceNumber != 102 {
		t.Fatalf("late seq %d, want 102", h.SequenceNumber)
	}
	// Older than the source's first forwarded packet: dropped, untouched.
	h, ok := feed(w, 2, 65533, 20, t0.Add(time.Second))
	if ok {
		t.Fatalf("packet older than the switch forwarded as %d", h.SequenceNumber)
	}
	if h.SSRC != 2 || h.SequenceNumber != 65533 {
		t.Fatal("dropped header was modified")
	}
	// The next in-order packet is unaffected by the drop.
	h = mustFeed(t, w, 2, 2, 6050, t0.Add(time.Second))
	if h.SequenceNumber != 105 {
		t.Fatalf("seq %d", h.SequenceNumber)
	}
}

func TestRewriterLongRunNoFalseDrops(t *testing.T) {
	w := NewRewriter(5, 90000)
	at := t0
	for i := 0; i < 200000; i++ {
		seq := uint16(i)
		h := mustFeed(t, w, 1, seq, uint32(i)*3000, at)
		if h.SequenceNumber != seq {
			t.Fatalf("i=%d seq %d", i, h.SequenceNumber)
		}
		// A packet 100 behind is late but still after the first: kept.
		if i > 100 {
			if _, ok := feed(w, 1, seq-100, 0, at); !ok {
				t.Fatalf("late packet %d dropped after %d packets", seq-100, i)
			}
		}
	}
}

func TestRewriterSwitchSameSource(t *testing.T) {
	w := NewRewriter(5, 90000)
	mustFeed(t, w, 1, 100, 1000, t0)
	w.Switch()
	// The same source resumes with numbers far ahead (it was muted).
	h := mustFeed(t, w, 1, 900, 999999, t0.Add(time.Second))
	if h.SequenceNumber != 101 || h.Timestamp != 1000+90000 {
		t.Fatalf("got seq %d ts %d", h.SequenceNumber, h.Timestamp)
	}
	if _, ok := feed(w, 1, 899, 0, t0.Add(time.Second)); ok {
		t.Fatal("packet older than the re-base forwarded")
	}
}

func TestRewriterSourceSeq(t *testing.T) {
	w := NewRewriter(5, 90000)
	if _, _, ok := w.SourceSeq(1); ok {
		t.Fatal("SourceSeq before any packet")
	}
	if _, _, ok := w.TimestampOffset(); ok {
		t.Fatal("TimestampOffset before any packet")
	}
	mustFeed(t, w, 1, 100, 1000, t0)
	mustFeed(t, w, 1, 101, 2000, t0)
	mustFeed(t, w, 2, 5000, 70000, t0.Add(time.Second)) // → out 102
	mustFeed(t, w, 2, 5001, 73000, t0.Add(time.Second)) // → out 103

	ssrc, seq, ok := w.SourceSeq(103)
	if !ok || ssrc != 2 || seq != 5001 {
		t.Fatalf("SourceSeq(103) = %d %d %v", ssrc, seq, ok)
	}
	if ssrc, seq, ok = w.SourceSeq(102); !ok || ssrc != 2 || seq != 5000 {
		t.Fatalf("SourceSeq(102) = %d %d %v", ssrc, seq, ok)
	}
	if _, _, ok = w.SourceSeq(101); ok {
		t.Fatal("a previous source's number mapped to the current source")
	}
	if _, _, ok = w.SourceSeq(104); ok {
		t.Fatal("a number never forwarded was mapped")
	}
	ssrc, off, ok := w.TimestampOffset()
	if !ok || ssrc != 2 || off != (2000+90000)-70000 {
		t.Fatalf("TimestampOffset = %d %d %v", ssrc, off, ok)
	}
	if w.SSRC() != 5 {
		t.Fatal("SSRC")
	}
}

// FuzzRewriter drives a Rewriter with arbitrary packets and switches and
// checks its promises: the slot's SSRC on every packet, a new source starts
// right after the highest number forwarded so far, and within one mapping
// every packet keeps its offset.
func FuzzRewriter(f *testing.F) {
	f.Add([]byte{0, 1, 0, 10, 0, 0, 0, 1, 1, 0, 11, 0, 2, 2, 0, 5, 0, 3})
	f.Fuzz(func(t *testing.T, ops []byte) {
		w := NewRewriter(42, 90000)
		at := t0
		var maxOut uint16
		started := false
		for len(ops) >= 4 {
			op, ssrc, seq := ops[0], uint32(ops[1]%3), uint16(ops[2])<<8|uint16(ops[3])
			ops = ops[4:]
			at = at.Add(time.Duration(op) * time.Millisecond)
			if op%7 == 0 {
				w.Switch()
			}
			before := *w
			h := rtp.Header{SSRC: ssrc, SequenceNumber: seq, Timestamp: uint32(seq) * 3000}
			if !w.Rewrite(&h, at) {
				if h.SSRC != ssrc || h.SequenceNumber != seq {
					t.Fatal("dropped packet modified")
				}
				continue
			}
			if h.SSRC != 42 {
				t.Fatalf("ssrc %d", h.SSRC)
			}
			newMapping := !before.hasSource || before.rebase || before.srcSSRC != ssrc
			if newMapping && started && h.SequenceNumber != maxOut+1 {
				t.Fatalf("re-base to %d, want %d", h.SequenceNumber, maxOut+1)
			}
			if !newMapping && h.SequenceNumber-seq != before.seqOff {
				t.Fatal("offset changed within a mapping")
			}
			if got, src, ok := w.SourceSeq(h.SequenceNumber); !ok || got != ssrc || src != seq {
				t.Fatalf("SourceSeq(%d) = %d %d %v", h.SequenceNumber, got, src, ok)
			}
			if !started || int16(h.SequenceNumber-maxOut) > 0 {
				maxOut = h.SequenceNumber
			}
			started = true
		}
	})
}

func BenchmarkRewrite(b *testing.B) {
	w := NewRewriter(42, 90000)
	h := rtp.Header{SSRC: 1}
	at := t0
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h.SSRC = uint32(1 + i>>12&1) // a source switch every 4096 packets
		h.SequenceNumber = uint16(i)
		h.Timestamp = uint32(i) * 3000
		at = at.Add(time.Millisecond)
		w.Rewrite(&h, at)
		i++
	}
}
