package sfu

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/seatsfu/seatsfu/media"
)

// seqWriter is a bound slot's writer that records the sequence numbers the
// viewer would see.
type seqWriter struct {
	mu   sync.Mutex
	seqs []uint16
}

func (w *seqWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seqs = append(w.seqs, h.SequenceNumber)
	return h.MarshalSize() + len(payload), nil
}
func (w *seqWriter) Write(b []byte) (int, error) { return len(b), nil }

// upPacket is source packet seq as the reader hands it on: cached first,
// then queued.
func upPacket(t *testing.T, src *source, seq uint16, key bool) *packet {
	t.Helper()
	p := getPacket()
	p.hdr = rtp.Header{Version: 2, PayloadType: 96, SSRC: 42, SequenceNumber: seq, Timestamp: uint32(seq) * 3000}
	p.keyframe = key
	payload := make([]byte, 1000)
	payload[0], payload[1] = 0x10, 0x01
	if key {
		payload[1] = 0x00
	}
	n, err := p.hdr.MarshalTo(p.buf[:])
	if err != nil {
		t.Fatal(err)
	}
	n += copy(p.buf[n:], payload)
	p.payload = p.buf[n-len(payload) : n]
	src.gop.Push(seq, p.buf[:n], key)
	return p
}

// A replay that loses its group (the cache overflowed) starts the slot over
// on the next keyframe without a sequence gap: the viewer never saw the
// skipped packets, and a gap would make it NACK packets no cache holds.
// The writer is driven by hand (no goroutine), so the order is exact.
func TestCancelledReplayRestartsWithoutASequenceGap(t *testing.T) {
	f := newFanout(t, 1, 1, 64, 0)
	defer f.stop()
	src, sl := f.src, f.viewers[0].slots[0]
	src.gop = media.NewGOPCache(8, 0)
	w := &seqWriter{}
	sl.track.bound.Store(&boundTrack{w: w, ssrc: 1000, pt: 96})
	b := sl.binding.Load()

	for seq := uint16(1); seq <= 4; seq++ {
		upPacket(t, src, seq, seq == 1).release()
	}
	// The viewer's first packet is an inter frame: the slot replays the
	// group from keyframe 1; the first pump sends what a burst allows.
	sl.forward(item{p: upPacket(t, src, 5, false), sl: sl, b: b})
	now := time.Now()
	if due := sl.pump(now); due.IsZero() {
		t.Fatal("the whole group went out in one burst: the replay was not cut short, the test proves nothing")
	}
	// The group outgrows the cache (8 packets) before the replay goes on.
	for seq := uint16(6); seq <= 9; seq++ {
		upPacket(t, src, seq, false).release()
	}
	if src.gop.Valid() {
		t.Fatal("the cache did not overflow")
	}
	if due := sl.pump(now.Add(time.Second)); !due.IsZero() || sl.replaying || !sl.waitKey {
		t.Fatalf("a replay of an emptied cache goes on (due %v, active %v, waitKey %v)", due, sl.replaying, sl.waitKey)
	}
	sl.forward(item{p: upPacket(t, src, 10, true), sl: sl, b: b})
	sl.forward(item{p: upPacket(t, src, 11, false), sl: sl, b: b})

	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.seqs) < 4 {
		t.Fatalf("viewer got %v, want some of the old group then keyframe 10 and 11", w.seqs)
	}
	for i := 1; i < len(w.seqs); i++ {
		if w.seqs[i] != w.seqs[i-1]+1 {
			t.Fatalf("viewer got sequence numbers %v: a gap at %d", w.seqs, i)
		}
	}
}
