package sfu

import (
	"testing"
)

// After a queue overflow a viewer's video resumes on the next keyframe.
// The packets shed in between were shed on purpose: the slot's numbering
// must continue without a gap, or the viewer NACKs every one of them (the
// NACK storms of an overloaded node).
func TestOverflowResumesWithoutASequenceGap(t *testing.T) {
	const queue = 16
	f := newFanout(t, 1, 1, queue, 0) // no writer goroutine: the test flushes
	defer f.stop()
	v, sl, w := f.viewers[0], f.viewers[0].slots[0], f.writers[0]
	w.keep = true
	offer := func(seq uint16, key bool) {
		pk := getPacket()
		pk.hdr.Version, pk.hdr.SSRC, pk.hdr.PayloadType = 2, 42, 96
		pk.hdr.SequenceNumber, pk.hdr.Timestamp = seq, uint32(seq)*3000
		pk.payload = pk.buf[:100]
		pk.payload[0], pk.payload[1] = 0x10, 0x01
		if key {
			pk.payload[1] = 0x00
		}
		pk.keyframe = key
		sl.offer(f.src, pk, true)
		pk.release()
	}
	offer(1, true)
	for seq := uint16(2); seq <= queue+5; seq++ {
		offer(seq, false) // the last 5 overflow the queue
	}
	if !sl.dropping.Load() {
		t.Fatal("the slot is not dropping after its queue overflowed")
	}
	v.flush()
	lastOut := w.last.Load().SequenceNumber
	for seq := uint16(queue + 6); seq < 40; seq++ {
		offer(seq, false) // still dropped: no keyframe yet
	}
	offer(40, true)
	offer(41, false)
	v.flush()
	if got := w.last.Load().SequenceNumber; got != lastOut+2 {
		t.Errorf("after the overflow the slot resumed at seq %d (+%d), want the keyframe and the packet after it at +1, +2: the viewer would NACK what the server shed",
			got, got-lastOut)
	}
	if sl.dropping.Load() {
		t.Error("the slot still drops after the keyframe")
	}
}

// A viewer that is leaving is not behind: what it is offered between its
// stop and its leaving the sinks is not counted as dropped, and asks no
// keyframe. Counted, a show's audience leaving at once made the node
// refuse newcomers (egress_behind) and learn a ceiling from a second of
// departures (overload.go).
func TestALeavingViewerIsNotDroppingPackets(t *testing.T) {
	f := newFanout(t, 1, 1, 16, 0) // no writer goroutine: the test flushes
	defer f.stop()
	v, sl := f.viewers[0], f.viewers[0].slots[0]
	plis := f.src.up.lastPLI.Load()
	v.stop()
	v.drain() // its writer's last turn: the queue closes
	for seq := uint16(1); seq <= 20; seq++ {
		pk := getPacket()
		pk.hdr.Version, pk.hdr.SSRC, pk.hdr.PayloadType = 2, 42, 96
		pk.hdr.SequenceNumber = seq
		pk.payload = pk.buf[:100]
		pk.payload[0], pk.payload[1] = 0x10, 0x01
		sl.offer(f.src, pk, true)
		pk.release()
	}
	if got := counterValue(t, f.src.pub.room.s.m.droppedPackets[videoIdx]); got != 0 {
		t.Fatalf("dropped_packets %v for a leaving viewer, want 0", got)
	}
	if sl.dropping.Load() || f.src.up.lastPLI.Load() != plis {
		t.Fatal("a leaving viewer's slot went dropping and asked for a keyframe")
	}
}
