package sfu

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"

	"github.com/seatsfu/seatsfu/media"
	"github.com/seatsfu/seatsfu/seat"
)

// The fan-out harness drives the real forwarding path — source.read, the
// viewers' queues, writers, rewriters — with an in-memory up-track and
// counting down-track writers instead of Pion connections, so it measures
// the SFU's own cost per forwarded packet (SRTP and the socket excluded).

type nopNotifier struct{}

func (nopNotifier) Notify(*Room, []seat.Delivery) {}

// countingWriter is a bound slot's TrackLocalWriter.
type countingWriter struct {
	n        *atomic.Int64 // shared by all viewers
	own      atomic.Int64
	lastSeq  atomic.Uint32
	firstSeq atomic.Int64 // -1 until the first packet
	firstKey atomic.Bool
	keep     bool                       // keep a copy of the last header written (fuzzing)
	last     atomic.Pointer[rtp.Header] // when keep
	lastOSN  atomic.Uint32              // when keep: the first two payload bytes
	payloads sync.Map                   // when keep: a copy of each payload, by ssrc<<16 | seq
}

func (w *countingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if w.firstSeq.CompareAndSwap(-1, int64(h.SequenceNumber)) {
		w.firstKey.Store(media.IsKeyframe(media.CodecVP8, payload))
	}
	w.lastSeq.Store(uint32(h.SequenceNumber))
	if w.keep {
		hc := *h
		w.last.Store(&hc)
		if len(payload) >= 2 {
			w.lastOSN.Store(uint32(payload[0])<<8 | uint32(payload[1]))
		}
		w.payloads.Store(uint64(h.SSRC)<<16|uint64(h.SequenceNumber), bytes.Clone(payload))
	}
	w.own.Add(1)
	w.n.Add(1)
	return h.MarshalSize() + len(payload), nil // like Pion's SRTP writer once connected
}
func (w *countingWriter) Write(b []byte) (int, error) { return len(b), nil }

// fakeUpTrack produces total VP8 packets (a keyframe every 30th), waiting
// before each one until every paced viewer is less than lead packets
// behind, so the queues never overflow unless a test wants them to.
type fakeUpTrack struct {
	total, sent int
	lead        int
	paced       []*countingWriter // writers of the viewers whose writer runs
	pkt         rtp.Packet
}

func (f *fakeUpTrack) Read(b []byte) (int, interceptor.Attributes, error) {
	if f.sent == f.total {
		return 0, nil, io.EOF
	}
	for _, w := range f.paced {
		for int64(f.sent-f.lead) > w.own.Load() {
			runtime.Gosched()
		}
	}
	f.sent++
	f.pkt.SequenceNumber++
	f.pkt.Timestamp += 3000
	f.pkt.Payload[1] = 0x01
	if f.sent%30 == 1 {
		f.pkt.Payload[1] = 0x00
	}
	n, err := f.pkt.MarshalTo(b)
	return n, nil, err
}

type fanout struct {
	src     *source
	viewers []*viewer
	writers []*countingWriter
	fwd     atomic.Int64
	pool    *writerPool
	up      *fakeUpTrack
}

// newFanout builds one video source feeding n viewers, served by a writer
// pool like the SFU's; the first stalled viewers are never served.
func newFanout(tb testing.TB, n, stalled, queue, packets int) *fanout {
	tb.Helper()
	m, err := newMetrics(nil)
	if err != nil {
		tb.Fatal(err)
	}
	sr, err := seat.New(seat.Config{RoomID: "bench", MaxSeats: 2, Clock: realClock{},
		Owner: seat.User{UserID: "owner", Role: seat.RoleOwner}})
	if err != nil {
		tb.Fatal(err)
	}
	s := &SFU{m: m, log: slog.Default(), cfg: Config{ViewerQueue: queue}, videoCodec: media.CodecVP8}
	r := newRoom(s, sr, RoomConfig{Notifier: nopNotifier{}})
	f := &fanout{pool: newWriterPool(runtime.GOMAXPROCS(0), nil)}
	tb.Cleanup(f.pool.close) // for the harnesses that never stop it
	up := &fakeUpTrack{total: packets, lead: queue / 2,
		pkt: rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SSRC: 42}, Payload: make([]byte, 1000)}}
	up.pkt.Payload[0] = 0x10
	f.src = newSource(&publisher{room: r, user: "owner"}, videoIdx, media.CodecVP8, nil, up)
	f.src.seatIdx, f.src.gop = 0, media.NewGOPCache(0, 0)
	var slots []*slot
	for i := 0; i < n; i++ {
		v := newViewer(r, fmt.Sprintf("v%d", i), nil, queue)
		sl := newSlot(v, videoIdx, 0, s.newSlotTrack(videoIdx, 0))
		w := &countingWriter{n: &f.fwd}
		w.firstSeq.Store(-1)
		sl.track.bound.Store(&boundTrack{w: w, ssrc: 1000 + 0, pt: 96})
		sl.binding.Store(&binding{src: f.src})
		v.slots = []*slot{sl}
		slots = append(slots, sl)
		f.viewers = append(f.viewers, v)
		f.writers = append(f.writers, w)
		v.pool = nil // stalled: nobody writes for it
		if i >= stalled {
			up.paced = append(up.paced, w)
			v.pool = f.pool
		}
	}
	f.src.sinks.Store(&slots)
	f.up = up
	return f
}

func (f *fanout) stop() {
	for _, v := range f.viewers {
		v.stop()
	}
	f.pool.close()
	for _, v := range f.viewers {
		v.drain()
	}
}

func TestStalledWriterDropsOnlyItsOwnPackets(t *testing.T) {
	const packets, queue = 300, 16
	f := newFanout(t, 3, 1, queue, packets)
	f.src.read()
	eventually(t, 5*time.Second, "live viewers to get every packet", func() bool { return f.fwd.Load() == 2*packets })
	f.stop()
	for i, w := range f.writers[1:] {
		if got := w.lastSeq.Load(); got != packets {
			t.Errorf("live viewer %d last seq %d, want %d", i+1, got, packets)
		}
	}
	if got := counterValue(t, f.src.pub.room.s.m.droppedPackets[videoIdx]); got < packets-queue {
		t.Errorf("dropped = %v, want ≥ %d for the stalled viewer", got, packets-queue)
	}
	if !f.viewers[0].slots[0].dropping.Load() {
		t.Error("the stalled viewer's video slot is not waiting for a keyframe after overflowing")
	}
}

// BenchmarkFanout forwards b.N packets from one publisher to N viewers.
// Metrics: ns and allocations per forwarded packet (one packet to one viewer).
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("viewers=%d", n), func(b *testing.B) {
			f := newFanout(b, n, 0, 1024, b.N)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			start := time.Now()
			f.src.read()
			for f.fwd.Load() < int64(b.N)*int64(n) {
				runtime.Gosched()
			}
			el := time.Since(start)
			b.StopTimer()
			runtime.ReadMemStats(&after)
			f.stop()
			fwd := float64(b.N) * float64(n)
			b.ReportMetric(float64(el.Nanoseconds())/fwd, "ns/fwd-pkt")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/fwd, "allocs/fwd-pkt")
		})
	}
}

func TestLateViewerStartsAtOnceFromTheCachedKeyframe(t *testing.T) {
	f := newFanout(t, 1, 0, 64, 45)
	defer f.stop()
	sinks := f.src.sinks.Load()
	f.src.sinks.Store(new([]*slot))
	paced := f.up.paced
	f.up.paced = nil
	f.src.read() // packets 1..45: keyframes at 1 and 31, nobody watching

	f.src.sinks.Store(sinks)
	f.up.paced, f.up.total, f.up.lead = paced, 46, 64
	f.src.read() // packet 46, an inter frame: the viewer's first
	w := f.writers[0]
	eventually(t, 5*time.Second, "the replayed group and packet 46", func() bool { return w.lastSeq.Load() == 46 })
	if got := w.firstSeq.Load(); got != 31 || !w.firstKey.Load() {
		t.Errorf("viewer started at seq %d (keyframe %v), want the cached keyframe 31", got, w.firstKey.Load())
	}
	if got := w.own.Load(); got != 16 {
		t.Errorf("viewer got %d packets, want 16 (31..46, no duplicate)", got)
	}
}

func TestNackIsServedFromTheSharedCache(t *testing.T) {
	f := newFanout(t, 1, 0, 64, 10)
	defer f.stop()
	f.src.read()
	w, v := f.writers[0], f.viewers[0]
	eventually(t, 5*time.Second, "10 packets", func() bool { return w.own.Load() == 10 })

	v.push(item{sl: v.slots[0], nack: true, seq: 5})
	v.push(item{sl: v.slots[0], nack: true, seq: 500}) // never sent: ignored
	eventually(t, 5*time.Second, "the retransmission", func() bool { return w.own.Load() == 11 })
	if got := w.lastSeq.Load(); got != 5 {
		t.Errorf("retransmitted seq %d, want 5", got)
	}
	m := f.src.pub.room.s.m
	if got := counterValue(t, m.retransmitted); got != 1 {
		t.Errorf("retransmitted_packets_total = %v, want 1", got)
	}
}

// With RTX negotiated a NACK is answered on the RTX SSRC and payload type,
// on the RTX stream's own numbering, the original sequence number first in
// the payload (RFC 4588 §4).
func TestNackIsAnsweredOverRTXWhenNegotiated(t *testing.T) {
	f := newFanout(t, 1, 0, 64, 10)
	defer f.stop()
	w, v := f.writers[0], f.viewers[0]
	w.keep = true
	bt := *v.slots[0].track.bound.Load()
	bt.rtxSSRC, bt.rtxPT = 2000, 97
	v.slots[0].track.bound.Store(&bt)
	f.src.read()
	eventually(t, 5*time.Second, "10 packets", func() bool { return w.own.Load() == 10 })

	v.push(item{sl: v.slots[0], nack: true, seq: 5})
	v.push(item{sl: v.slots[0], nack: true, seq: 7})
	eventually(t, 5*time.Second, "the retransmissions", func() bool { return w.own.Load() == 12 })
	h := w.last.Load()
	if h.SSRC != 2000 || h.PayloadType != 97 || h.SequenceNumber != 1 {
		t.Fatalf("second RTX packet header %+v, want SSRC 2000, PT 97, RTX seq 1", h)
	}
	if osn := w.lastOSN.Load(); osn != 7 {
		t.Fatalf("original sequence number %d in the RTX payload, want 7", osn)
	}
	orig, _ := w.payloads.Load(uint64(bt.ssrc)<<16 | 7)
	rtx, _ := w.payloads.Load(uint64(2000)<<16 | 1)
	if orig == nil || rtx == nil || !bytes.Equal(rtx.([]byte)[2:], orig.([]byte)) {
		t.Fatalf("RTX payload %x, want the OSN then packet 7's payload %x", rtx, orig)
	}
}
