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
	// Measuring gates latency samples: a scenario turns it on after its
	// warm-up so connection set-up does not pollute the percentiles.
	Measuring atomic.Bool
}

// Switch is the moment a slot started carrying another publisher's stream.
type Switch struct {
	AtNs     int64 // CLOCK_MONOTONIC of the first packet of To
	From, To uint32
}

// TrackReport is one received track's tally, read after the viewer closed.
type TrackReport struct {
	Kind string
	SSRC uint32
	// Wire is the RTP sequence as the SFU numbered it: duplicates,
	// reordering and gaps on the last leg.
	Wire stats.SeqCounts
	// Source is measured on the publishers' packet index (the stamp),
	// summed over every source the slot carried: true end-to-end loss,
	// which an SFU renumbering packets cannot hide.
	Source      stats.SeqCounts
	Expected    uint64 // source packets expected
	Unrecovered uint64 // source packets never received
	FirstNs     int64  // first packet, 0 if none
	FirstKeyNs  int64  // first VP8 keyframe start, 0 if none
	Switches    []Switch
}

// trackRx follows one incoming track; handle runs on one goroutine.
type trackRx struct {
	sink  *Sink
	video bool
	hdr   rtp.Header

	mu     sync.Mutex // guards the tallies against a mid-run Report
	wire   stats.Seq
	src    stats.Seq   // the current source's packet index
	done   TrackReport // tallies of sources the slot no longer carries
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
	t.wire.Push(t.hdr.SequenceNumber)
	if t.rep.FirstNs == 0 {
		t.rep.FirstNs = nowNs
	}
	if err != nil {
		t.sink.Foreign.Add(1)
		return
	}
	if t.sink.Measuring.Load() {
		t.sink.Latency.Record(timeDelta(nowNs, st.SentNs))
	}
	if st.StreamID != t.stream {
		if len(t.rep.Switches) < 1024 {
			t.rep.Switches = append(t.rep.Switches, Switch{AtNs: nowNs, From: t.stream, To: st.StreamID})
		}
		t.stream = st.StreamID
		t.retireSource()
	}
	t.src.Push(uint16(st.Index))
	if t.video && t.rep.FirstKeyNs == 0 && media.IsKeyframe(media.CodecVP8, payload) {
		t.rep.FirstKeyNs = nowNs
	}
}

// retireSource folds the current source's tally into done and starts a
// fresh one for the next source.
func (t *trackRx) retireSource() {
	t.done.Source = addCounts(t.done.Source, t.src.Counts())
	t.done.Expected += t.src.Expected()
	t.done.Unrecovered += t.src.Unrecovered()
	t.src = stats.Seq{}
}

func addCounts(a, b stats.SeqCounts) stats.SeqCounts {
	return stats.SeqCounts{
		Packets:    a.Packets + b.Packets,
		Unique:     a.Unique + b.Unique,
		Duplicates: a.Duplicates + b.Duplicates,
		Late:       a.Late + b.Late,
		Gaps:       a.Gaps + b.Gaps,
	}
}

func (t *trackRx) report() TrackReport {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.rep
	r.Wire = t.wire.Counts()
	r.Source = addCounts(t.done.Source, t.src.Counts())
	r.Expected = t.done.Expected + t.src.Expected()
	r.Unrecovered = t.done.Unrecovered + t.src.Unrecovered()
	r.Switches = append([]Switch(nil), t.rep.Switches...)
	return r
}
