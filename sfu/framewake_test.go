package sfu

import (
	"testing"
	"time"

	"github.com/pion/rtp"
)

// framePacket is a parsed VP8 inter-frame packet as the reader makes it.
func framePacket(t *testing.T, seq uint16, ts uint32, marker bool) *packet {
	return vp8Packet(t, seq, ts, marker, false)
}

func vp8Packet(t *testing.T, seq uint16, ts uint32, marker, key bool) *packet {
	t.Helper()
	pk := getPacket()
	raw := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SSRC: 42, SequenceNumber: seq, Timestamp: ts, Marker: marker},
		Payload: []byte{0x10, 0x01, 0, 0, 0, 0, 0, 0}}
	if key {
		raw.Payload[1] = 0x00 // the VP8 payload header's inverse keyframe bit
	}
	n, err := raw.MarshalTo(pk.buf[:])
	if err != nil || !pk.parse(n) {
		t.Fatalf("packet %d: %v", seq, err)
	}
	return pk
}

// The frame-gathering rule (framewake.go): a video
// frame wakes its viewers at its marker, at the first packet of another
// timestamp, or at its frameWakeMax-th packet; audio at every packet.
func TestFrameEndsAtItsMarkerAnotherTimestampOrItsSize(t *testing.T) {
	f := newFanout(t, 1, 0, 64, 0)
	defer f.stop()
	src := f.src
	seq := uint16(0)
	ends := func(ts uint32, marker bool) bool {
		seq++
		pk := framePacket(t, seq, ts, marker)
		defer pk.release()
		return src.endsFrame(pk)
	}
	for i, c := range []struct {
		ts     uint32
		marker bool
		want   bool
	}{
		{1000, false, false}, {1000, false, false}, {1000, true, true}, // a frame: woken at its marker
		{2000, true, true},                        // a frame of one packet
		{3000, false, false}, {4000, false, true}, // its marker lost: the next frame's first packet wakes
		{4000, true, true},
	} {
		if got := ends(c.ts, c.marker); got != c.want {
			t.Fatalf("packet %d (ts %d, marker %v): wake %v, want %v", i, c.ts, c.marker, got, c.want)
		}
	}
	for i := 1; i <= frameWakeMax; i++ {
		if got, want := ends(5000, false), i == frameWakeMax; got != want {
			t.Fatalf("packet %d of a long frame: wake %v, want %v", i, got, want)
		}
	}
	// A frame the timer found open ends at its next packet.
	if ends(5500, false) {
		t.Fatal("the first packet of a frame woke its viewers")
	}
	src.frameOverdue()
	if !ends(5500, false) {
		t.Fatal("the packet after the timer fired did not wake its viewers")
	}
	src.kind = audioIdx
	if !ends(6000, false) {
		t.Fatal("an audio packet did not wake its viewers")
	}
}

// A frame's packets wait in the viewer's queue, its writer not woken,
// until the frame ends; then one turn sends them all.
func TestFramePacketsWaitForTheFrameEnd(t *testing.T) {
	f := newFanout(t, 1, 0, 64, 0)
	defer f.stop()
	v, w := f.viewers[0], f.writers[0]
	// A keyframe first, so the slot is live.
	key := vp8Packet(t, 1, 1000, true, true)
	f.src.ingest(key, 0)
	key.release()
	eventually(t, 5*time.Second, "the keyframe", func() bool { return w.own.Load() == 1 })
	eventually(t, 5*time.Second, "the writer to go idle", func() bool { return v.run.Load() == runIdle })

	for seq := uint16(2); seq <= 3; seq++ {
		pk := framePacket(t, seq, 2000, false)
		f.src.ingest(pk, 0)
		pk.release()
	}
	v.mu.Lock()
	queued := v.n
	v.mu.Unlock()
	if queued != 2 || v.run.Load() != runIdle || w.own.Load() != 1 {
		t.Fatalf("mid-frame: %d queued, run state %d, %d written; want 2 queued, the writer idle, 1 written", queued, v.run.Load(), w.own.Load())
	}
	pk := framePacket(t, 4, 2000, true)
	f.src.ingest(pk, 0)
	pk.release()
	eventually(t, 5*time.Second, "the frame's three packets", func() bool { return w.own.Load() == 4 })
	if got := w.lastSeq.Load(); got != 4 {
		t.Fatalf("last seq %d, want 4", got)
	}
}

// A frame whose end never comes (its marker lost, the publisher paused)
// is sent frameWakeAfter after it opened, by the source's timer.
func TestAnUnendedFrameIsSentByTheTimer(t *testing.T) {
	f := newFanout(t, 1, 0, 64, 0)
	defer f.stop()
	w := f.writers[0]
	key := vp8Packet(t, 1, 1000, true, true)
	f.src.ingest(key, 0)
	key.release()
	start := time.Now()
	for seq := uint16(2); seq <= 3; seq++ {
		pk := framePacket(t, seq, 2000, false)
		f.src.ingest(pk, 0)
		pk.release()
	}
	eventually(t, 5*time.Second, "the unended frame", func() bool { return w.own.Load() == 3 })
	if el := time.Since(start); el < frameWakeAfter {
		t.Fatalf("the unended frame went out after %v, before its timer (%v)", el, frameWakeAfter)
	}
	f.src.endFrames() // the reader's exit stops the timer
}
