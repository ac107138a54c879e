package media

import (
	"time"

	"github.com/pion/rtp"
)

// maxGapTicks caps the timestamp gap a re-base inserts, so that even after
// hours of silence the new timestamp stays "ahead" in RTP's modulo-2^32
// serial arithmetic (2^30 ticks is 3.3 h at 90 kHz, 6.2 h at 48 kHz).
const maxGapTicks = 1 << 30

// Rewriter maps the packets of whichever source currently feeds one
// down-stream slot (viewer × seat × kind) onto the slot's own SSRC, sequence
// number and timestamp space, so the viewer sees one continuous stream while
// the seat changes hands underneath it.
//
// It is not safe for concurrent use: one slot has one writer. It allocates
// nothing.
type Rewriter struct {
	ssrc      uint32
	clockRate uint32

	started bool      // at least one packet was forwarded
	maxSeq  uint16    // highest out sequence number forwarded
	maxTS   uint32    // latest out timestamp forwarded (serial order)
	lastAt  time.Time // wall time of the last forwarded packet

	// The current source and its mapping.
	hasSource bool
	rebase    bool // set by Switch: the next packet starts a new mapping
	srcSSRC   uint32
	seqOff    uint16 // out seq = source seq + seqOff
	tsOff     uint32 // out ts = source ts + tsOff
	// Source sequence numbers extended past 16 bits, so that "older than
	// the first forwarded packet" holds however long the source runs.
	srcMax      uint16 // highest source seq forwarded, as on the wire
	srcMaxExt   int64  // its extended value
	srcFirstExt int64  // extended value of the first forwarded packet
}

// NewRewriter returns a Rewriter that stamps ssrc on every packet and counts
// time at clockRate ticks per second (see Codec.ClockRate).
func NewRewriter(ssrc uint32, clockRate uint32) *Rewriter {
	w := new(Rewriter)
	w.Reset(ssrc, clockRate)
	return w
}

// Reset makes w a new Rewriter, as NewRewriter's, in place: a caller can
// keep one inside its own state rather than behind a pointer.
func (w *Rewriter) Reset(ssrc uint32, clockRate uint32) {
	*w = Rewriter{ssrc: ssrc, clockRate: clockRate}
}

// Rewrite maps a source packet header, in place, onto the slot's own SSRC /
// sequence / timestamp space, and reports whether the packet should be
// forwarded.
//
// The first packet after a source change (different source SSRC) or after
// Switch re-bases the mapping: its out sequence number is the last one
// forwarded + 1, its out timestamp the last one + the wall time elapsed since
// the last forwarded packet (at least one tick). Within one source,
// reordered and late packets keep their relative offsets; a packet older than
// the source's first forwarded packet is refused, so the out stream never goes
// backwards across a switch.
func (w *Rewriter) Rewrite(h *rtp.Header, now time.Time) bool {
	if !w.hasSource || w.rebase || h.SSRC != w.srcSSRC {
		w.rebaseOn(h, now)
	}
	delta := int64(int16(h.SequenceNumber - w.srcMax))
	ext := w.srcMaxExt + delta
	if ext < w.srcFirstExt {
		return false
	}
	if delta > 0 {
		w.srcMax = h.SequenceNumber
		w.srcMaxExt = ext
	}

	outSeq := h.SequenceNumber + w.seqOff
	outTS := h.Timestamp + w.tsOff
	if int16(outSeq-w.maxSeq) > 0 {
		w.maxSeq = outSeq
	}
	if int32(outTS-w.maxTS) > 0 {
		w.maxTS = outTS
	}
	w.lastAt = now

	h.SSRC = w.ssrc
	h.SequenceNumber = outSeq
	h.Timestamp = outTS
	return true
}

// rebaseOn starts a new mapping whose first packet is h.
func (w *Rewriter) rebaseOn(h *rtp.Header, now time.Time) {
	outSeq, outTS := h.SequenceNumber, h.Timestamp // the very first packet keeps its numbers
	if w.started {
		outSeq = w.maxSeq + 1
		outTS = w.maxTS + w.gapTicks(now)
	}
	w.started = true
	w.maxSeq, w.maxTS = outSeq, outTS

	w.hasSource = true
	w.rebase = false
	w.srcSSRC = h.SSRC
	w.seqOff = outSeq - h.SequenceNumber
	w.tsOff = outTS - h.Timestamp
	w.srcMax = h.SequenceNumber
	w.srcMaxExt = 0
	w.srcFirstExt = 0
}

// gapTicks converts the wall time since the last forwarded packet into
// timestamp ticks: at least 1 so the timestamp moves, at most maxGapTicks.
func (w *Rewriter) gapTicks(now time.Time) uint32 {
	elapsed := now.Sub(w.lastAt)
	if elapsed <= 0 {
		return 1
	}
	// Split seconds and remainder so the product cannot overflow int64.
	secs := uint64(elapsed / time.Second)
	rem := uint64(elapsed % time.Second)
	ticks := secs*uint64(w.clockRate) + rem*uint64(w.clockRate)/uint64(time.Second)
	switch {
	case ticks < 1:
		return 1
	case ticks > maxGapTicks:
		return maxGapTicks
	}
	return uint32(ticks)
}

// Switch forces a re-base on the next packet, for a source that pauses and
// resumes under the same SSRC (a mute, a reconnect) or a slot that must start
// over on a keyframe. Until that packet, SourceSeq and TimestampOffset still
// describe the old mapping.
func (w *Rewriter) Switch() {
	w.rebase = true
}

// SourceSeq maps a sequence number the viewer NACKs back to the current
// source's SSRC and sequence number. It reports false for numbers that were
// never forwarded from the current source (a previous source's, or ahead of
// the stream).
func (w *Rewriter) SourceSeq(outSeq uint16) (ssrc uint32, seq uint16, ok bool) {
	if !w.hasSource {
		return 0, 0, false
	}
	seq = outSeq - w.seqOff
	delta := int64(int16(seq - w.srcMax))
	if delta > 0 || w.srcMaxExt+delta < w.srcFirstExt {
		return 0, 0, false
	}
	return w.srcSSRC, seq, true
}

// TimestampOffset is the current mapping of source timestamps onto the slot's
// (out ts = source ts + off), for translating the source's sender reports.
// ok is false before the first packet.
func (w *Rewriter) TimestampOffset() (ssrc uint32, off uint32, ok bool) {
	if !w.hasSource {
		return 0, 0, false
	}
	return w.srcSSRC, w.tsOff, true
}

// SSRC is the slot's own SSRC, stamped on every forwarded packet.
func (w *Rewriter) SSRC() uint32 { return w.ssrc }

// LastTimestamp is the latest out timestamp forwarded (serial order).
func (w *Rewriter) LastTimestamp() uint32 { return w.maxTS }
