package sfu

import (
	"sync/atomic"
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/seatsfu/seatsfu/media"
)

// The SFU's own handlers of peer input, fuzzed on the real code path (the
// fan-out harness: a real source, viewer queue, slot and rewriter, with a
// counting writer instead of Pion). The RTP and RTCP parsers underneath are
// pion/rtp and media.Feedback (fuzzed in media).

// rig is one video source feeding one viewer slot whose writer the fuzz
// body drives by hand. The room and metrics are shared by a target's
// executions; everything with state is built fresh for each, and small, so
// the fuzzer spends its time in the code under test.
type rig struct {
	src *source
	v   *viewer
	sl  *slot
	w   *countingWriter
}

func newRigRoom(tb testing.TB) *Room {
	tb.Helper()
	fo := newFanout(tb, 0, 0, 8, 0)
	return fo.src.pub.room
}

func newRig(r *Room) rig {
	src := newSource(&publisher{room: r, user: "owner"}, videoIdx, media.CodecVP8, nil, nil)
	src.cache.Store(media.NewCache(media.MinCacheSize))
	src.seatIdx, src.gop = 0, media.NewGOPCache(64, 64<<10)
	v := newViewer(r, "viewer", nil, 16)
	sl := newSlot(v, videoIdx, 0, r.s.newSlotTrack(videoIdx, 0))
	w := &countingWriter{n: new(atomic.Int64), keep: true}
	w.firstSeq.Store(-1)
	sl.track.bound.Store(&boundTrack{w: w, ssrc: 1000, pt: 96})
	sl.binding.Store(&binding{src: src})
	v.slots = []*slot{sl}
	src.sinks.Store(&[]*slot{sl})
	return rig{src: src, v: v, sl: sl, w: w}
}

func (g rig) close() {
	g.src.up.stop()
	g.v.stop()
	g.v.drain()
}

func marshalRTP(tb testing.TB, h rtp.Header, payload []byte) []byte {
	tb.Helper()
	b, err := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// FuzzForward feeds an arbitrary datagram to the up-track path — parse
// (header, CSRCs, extensions, padding), cache, GOP cache, keyframe detection
// — then forwards it to a viewer (header munging: SSRC, sequence, timestamp,
// extensions and padding stripped) and retransmits it from the cache. No
// panic; what is written is a well-formed RTP header on the slot's SSRC with
// the payload as parsed; nothing is written for a packet parse refused.
func FuzzForward(f *testing.F) {
	f.Add(marshalRTP(f, rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 7, Timestamp: 9, SSRC: 42}, []byte{0x10, 0x00, 1, 2}))
	ext := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 8, SSRC: 42, CSRC: []uint32{1, 2}}
	_ = ext.SetExtension(1, []byte{0xaa, 0xbb})
	f.Add(marshalRTP(f, ext, []byte{0x90, 0x80, 0x05, 0x00}))
	f.Add([]byte{0xa0, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 42, 0x10, 0x00, 0, 0, 0, 9}) // padding longer than the payload
	f.Add([]byte{0x8f, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 42})                         // 15 CSRCs announced, none present
	f.Add([]byte{0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 42, 0xbe, 0xde, 0xff, 0xff}) // extension longer than the packet
	room := newRigRoom(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		g := newRig(room)
		defer g.close()
		src, v, sl, w := g.src, g.v, g.sl, g.w

		pk := getPacket()
		n := copy(pk.buf[:], data)
		if !pk.parse(n) {
			pk.release()
			return
		}
		if len(pk.payload) == 0 || len(pk.payload) > n {
			t.Fatalf("payload of %d bytes from a %d-byte packet", len(pk.payload), n)
		}
		src.cache.Load().Put(pk.hdr.SequenceNumber, pk.buf[:n])
		pk.keyframe = media.IsKeyframe(src.codec, pk.payload)
		src.gop.Push(pk.hdr.SequenceNumber, pk.buf[:n], pk.keyframe)
		sl.offer(src, pk, true)
		pk.release()
		for it, ok := v.pop(); ok; it, ok = v.pop() {
			sl.forward(it)
		}
		if w.own.Load() == 0 {
			if pk.keyframe {
				t.Fatal("a keyframe was not forwarded to a waiting slot")
			}
			return // not a keyframe: the slot keeps waiting for one
		}
		v.push(item{sl: sl, nack: true, seq: uint16(w.lastSeq.Load())})
		for it, ok := v.pop(); ok; it, ok = v.pop() {
			sl.retransmit(it.seq)
		}
		if got := w.own.Load(); got != 2 {
			t.Fatalf("%d packets written, want the packet and its retransmission", got)
		}
		if h := w.last.Load(); h == nil || h.Version != 2 || h.SSRC != 1000 || h.Extension || h.Padding {
			t.Fatalf("written header %+v", h)
		}
	})
}

// FuzzFeedback feeds arbitrary bytes as a viewer's RTCP for a slot's SSRC
// to the viewer's handler: PLI/FIR, NACK storms (absurd pair counts), reports with absurd
// values. No panic, the viewer's queue never exceeds its bound, and every
// queued NACK is answered (from the cache or not at all) without a write
// of anything the cache did not hold.
func FuzzFeedback(f *testing.F) {
	mustRTCP := func(pkts ...rtcp.Packet) []byte {
		b, err := rtcp.Marshal(pkts)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	many := make([]rtcp.NackPair, 250) // × 17 sequence numbers each: 4 250, over media's bound
	for i := range many {
		many[i] = rtcp.NackPair{PacketID: uint16(i * 17), LostPackets: 0xffff}
	}
	f.Add(mustRTCP(&rtcp.TransportLayerNack{MediaSSRC: 1000, Nacks: []rtcp.NackPair{{PacketID: 3, LostPackets: 0x5}}}))
	f.Add(mustRTCP(&rtcp.TransportLayerNack{MediaSSRC: 1000, Nacks: many}))
	f.Add(mustRTCP(&rtcp.PictureLossIndication{MediaSSRC: 1000}, &rtcp.FullIntraRequest{FIR: []rtcp.FIREntry{{SSRC: 1000}}}))
	f.Add(mustRTCP(&rtcp.ReceiverReport{SSRC: 5, Reports: []rtcp.ReceptionReport{{SSRC: 1000, LastSenderReport: 0xffffffff, Delay: 0xffffffff}}}))
	f.Add([]byte{0x81, 205, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 3, 0xe8})                               // NACK whose length field overruns
	f.Add([]byte{0x8f, 205, 0, 4, 0, 0, 0, 1, 0, 0, 3, 0xe8, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 0}) // TWCC with absurd counts
	room := newRigRoom(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		g := newRig(room)
		defer g.close()
		src, v, sl, w := g.src, g.v, g.sl, g.w
		// Ten packets forwarded, so NACKs have something to map to.
		for seq := uint16(1); seq <= 10; seq++ {
			pk := getPacket()
			n, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, SSRC: 42},
				Payload: []byte{0x10, 0x00, byte(seq)}}).MarshalTo(pk.buf[:])
			pk.parse(n)
			pk.keyframe = seq == 1
			src.cache.Load().Put(seq, pk.buf[:n])
			sl.offer(src, pk, true)
			pk.release()
			for it, ok := v.pop(); ok; it, ok = v.pop() {
				sl.forward(it)
			}
		}
		sent := w.own.Load()

		v.onRTCP(1000, data) // as Pion's SRTCP session delivers it for the slot's SSRC
		v.mu.Lock()
		queued := v.n
		v.mu.Unlock()
		if queued > len(v.ring) || len(v.ring) > v.limit {
			t.Fatalf("%d queued in a ring of %d, bound %d", queued, len(v.ring), v.limit)
		}
		for it, ok := v.pop(); ok; it, ok = v.pop() {
			if it.nack {
				sl.retransmit(it.seq)
			}
		}
		if resent := w.own.Load() - sent; resent > int64(queued) {
			t.Fatalf("%d retransmissions for %d queued NACKs", resent, queued)
		}
	})
}
