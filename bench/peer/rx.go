package peer

import (
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"

	"github.com/seatsfu/seatsfu/bench/stats"
	"github.com/seatsfu/seatsfu/bench/synth"
	"github.com/seatsfu/seatsfu/media"
)

// Sink is where every viewer of a run reports: one latency histogram and
// live totals the progress line reads.
type Sink struct {
	Latency stats.Histogram
	Packets atomic.Uint64
	Bytes   atomic.Uint64
	// Foreign counts packets without our stamp (ignored for latency).
	Foreign atomic.Uint64
}

// Switch is the moment a slot started carrying another publisher's stream.
type Switch struct {
	AtNs     int64 // CLOCK_MONOTONIC of the first packet of To
	From, To uint32
}

// TrackReport is one received track's tally, read after the viewer closed.
type TrackReport struct {
	Kind        string
	SSRC        uint32
	Seq         stats.SeqCounts
	Expected    uint64
	Unrecovered uint64
	FirstNs     int64 // first packet, 0 if none
	FirstKeyNs  int64 // first VP8 keyframe start, 0 if none
	Switches    []Switch
}

// trackRx follows one incoming track; handle runs on one goroutine.
type trackRx struct {
	sink  *Sink
	video bool
	hdr   rtp.Header

	mu     sync.Mutex // guards rep against a mid-run Report
	seq    stats.Seq
	rep    TrackReport
	stream uint32
}

func newTrackRx(sink *Sink, kind string, ssrc uint32) *trackRx {
	return &trackRx{sink: sink, video: kind == "video", rep: TrackReport{Kind: kind, SSRC: ssrc}}
}

// handle takes one decrypted RTP packet received at nowNs.
func (t *trackRx) handle(pkt []byte, nowNs int64) {
	n, err := t.hdr.Unmarshal(pkt)
	if err != nil {
		return
	}
	payload := pkt[n:]
	if t.hdr.Padding && len(payload) > 0 {
		pad := int(payload[len(payload)-1])
		if pad > len(payload) {
			return
		}
		payload = payload[:len(payload)-pad]
	}
	t.sink.Packets.Add(1)
	t.sink.Bytes.Add(uint64(len(pkt)))
	st, err := synth.ReadStamp(payload)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seq.Push(t.hdr.SequenceNumber)
	if t.rep.FirstNs == 0 {
		t.rep.FirstNs = nowNs
	}
	if err != nil {
		t.sink.Foreign.Add(1)
		return
	}
	t.sink.Latency.Record(timeDelta(nowNs, st.SentNs))
	if st.StreamID != t.stream {
		if len(t.rep.Switches) < 1024 {
			t.rep.Switches = append(t.rep.Switches, Switch{AtNs: nowNs, From: t.stream, To: st.StreamID})
		}
		t.stream = st.StreamID
	}
	if t.video && t.rep.FirstKeyNs == 0 && media.IsKeyframe(media.CodecVP8, payload) {
		t.rep.FirstKeyNs = nowNs
	}
}

func (t *trackRx) report() TrackReport {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.rep
	r.Seq = t.seq.Counts()
	r.Expected = t.seq.Expected()
	r.Unrecovered = t.seq.Unrecovered()
	r.Switches = append([]Switch(nil), t.rep.Switches...)
	return r
}
