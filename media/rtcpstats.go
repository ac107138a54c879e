package media

import (
	"sync"
	"time"

	"github.com/pion/rtcp"
)

// ntpEpochOffset is the number of seconds from the NTP epoch (1900) to the
// Unix epoch (1970).
const ntpEpochOffset = 2208988800

// NTPTime converts a wall time to the 64-bit NTP format of RTCP sender
// reports: seconds since 1900 in the high word, the fraction in the low one.
func NTPTime(t time.Time) uint64 {
	nanos := uint64(t.UnixNano()) // valid until 2262
	secs := nanos/1e9 + ntpEpochOffset
	frac := (nanos % 1e9) << 32 / 1e9
	return secs<<32 | frac
}

// rtpClock is the wall time t on a clock of rate ticks per second, modulo
// 2^32; only differences of it mean anything.
func rtpClock(t time.Time, rate uint32) uint32 {
	n := t.UnixNano()
	secs, rem := uint64(n/1e9), uint64(n%1e9)
	return uint32(secs*uint64(rate) + rem*uint64(rate)/1e9)
}

// ntpMiddle is the middle 32 bits of an NTP time: the unit of LSR and of the
// round-trip arithmetic (1/65536 s).
func ntpMiddle(ntp uint64) uint32 { return uint32(ntp >> 16) }

// ReceiverStats keeps the RFC 3550 §6.4.1 reception statistics of one
// up-track: extended highest sequence number, cumulative and interval loss,
// interarrival jitter, and the last sender report for LSR/DLSR. The up-track
// reader updates it and the RTCP ticker reads it; it is safe for concurrent
// use.
type ReceiverStats struct {
	ssrc      uint32
	clockRate uint32

	mu       sync.Mutex
	started  bool
	baseSeq  uint32 // extended
	maxSeq   uint16
	cycles   uint32 // sequence number wraps, << 16
	received uint32
	// Interval bookkeeping for the fraction lost (RFC 3550 A.3).
	expectedPrior uint32
	receivedPrior uint32
	// Jitter (RFC 3550 A.8), in timestamp units scaled by 16.
	jitter      uint32
	lastTransit uint32
	haveTransit bool
	// The last sender report.
	lsr   uint32
	lsrAt time.Time
}

// NewReceiverStats returns statistics for the stream ssrc whose timestamps
// run at clockRate.
func NewReceiverStats(ssrc, clockRate uint32) *ReceiverStats {
	return &ReceiverStats{ssrc: ssrc, clockRate: clockRate}
}

// maxDropout is the forward jump RFC 3550 A.1 still treats as the same
// sequence space; a larger jump restarts the statistics (the sender reset).
const (
	maxDropout  = 3000
	maxMisorder = 100
)

// Push records a packet's arrival.
func (r *ReceiverStats) Push(seq uint16, ts uint32, arrival time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started {
		r.restart(seq)
	} else {
		udelta := seq - r.maxSeq
		switch {
		case udelta == 0: // duplicate
		case udelta < maxDropout:
			if seq < r.maxSeq {
				r.cycles += 1 << 16
			}
			r.maxSeq = seq
		case udelta <= 65535-maxMisorder:
			r.restart(seq) // a big jump: the sender restarted its numbering
		default: // reordered or duplicate: counts as received
		}
	}
	r.received++

	// Interarrival jitter: the spread of transit times, in timestamp units.
	transit := rtpClock(arrival, r.clockRate) - ts
	if r.haveTransit {
		d := int32(transit - r.lastTransit)
		if d < 0 {
			d = -d
		}
		// J += (|D| - J) / 16, kept scaled by 16 (RFC 3550 A.8).
		r.jitter += uint32(d) - ((r.jitter + 8) >> 4)
	}
	r.lastTransit, r.haveTransit = transit, true
}

func (r *ReceiverStats) restart(seq uint16) {
	r.started = true
	r.baseSeq = uint32(seq)
	r.maxSeq = seq
	r.cycles = 0
	r.received = 0
	r.expectedPrior, r.receivedPrior = 0, 0
}

// OnSenderReport records the publisher's sender report arriving at now, so
// the next reception report can carry LSR and DLSR for its RTT estimate.
func (r *ReceiverStats) OnSenderReport(sr *rtcp.SenderReport, now time.Time) {
	r.mu.Lock()
	r.lsr = ntpMiddle(sr.NTPTime)
	r.lsrAt = now
	r.mu.Unlock()
}

// Report builds the reception report block for now and starts a new
// interval for the fraction lost. ok is false before the first packet.
func (r *ReceiverStats) Report(now time.Time) (rr rtcp.ReceptionReport, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started {
		return rtcp.ReceptionReport{}, false
	}
	extMax := r.cycles + uint32(r.maxSeq)
	expected := extMax - r.baseSeq + 1
	lost := int64(expected) - int64(r.received)
	// The field is a signed 24-bit number.
	if lost > 0x7fffff {
		lost = 0x7fffff
	} else if lost < -0x800000 {
		lost = -0x800000
	}

	expectedInterval := expected - r.expectedPrior
	receivedInterval := r.received - r.receivedPrior
	r.expectedPrior, r.receivedPrior = expected, r.received
	var fraction uint8
	if lostInterval := int64(expectedInterval) - int64(receivedInterval); expectedInterval != 0 && lostInterval > 0 {
		fraction = uint8((lostInterval << 8) / int64(expectedInterval))
	}

	rr = rtcp.ReceptionReport{
		SSRC:               r.ssrc,
		FractionLost:       fraction,
		TotalLost:          uint32(lost) & 0xffffff,
		LastSequenceNumber: extMax,
		Jitter:             r.jitter >> 4,
	}
	if !r.lsrAt.IsZero() {
		rr.LastSenderReport = r.lsr
		if d := now.Sub(r.lsrAt); d > 0 {
			d = min(d, 65535*time.Second) // the field holds ~18 h
			rr.Delay = uint32(d * 65536 / time.Second)
		}
	}
	return rr, true
}

// SenderStats counts what one down-track sent, to build its RTCP sender
// reports with an NTP time and the RTP timestamp of that same instant. The
// writer updates it and the RTCP ticker reads it; safe for concurrent use.
type SenderStats struct {
	ssrc      uint32
	clockRate uint32

	mu      sync.Mutex
	sent    bool
	packets uint32
	octets  uint32
	lastTS  uint32
	lastAt  time.Time
}

// NewSenderStats returns statistics for the outgoing stream ssrc.
func NewSenderStats(ssrc, clockRate uint32) *SenderStats {
	return &SenderStats{ssrc: ssrc, clockRate: clockRate}
}

// Sent records one packet sent at now: its RTP timestamp and payload size
// (RFC 3550 counts payload octets only).
func (s *SenderStats) Sent(ts uint32, payloadLen int, now time.Time) {
	s.mu.Lock()
	s.sent = true
	s.packets++
	s.octets += uint32(payloadLen)
	s.lastTS, s.lastAt = ts, now
	s.mu.Unlock()
}

// Report builds a sender report for now: the RTP timestamp is the last
// packet's, advanced by the wall time since it, so a receiver can line the
// stream up with others (lip sync). ok is false before the first packet.
func (s *SenderStats) Report(now time.Time) (sr rtcp.SenderReport, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.sent {
		return rtcp.SenderReport{}, false
	}
	ts := s.lastTS
	if d := now.Sub(s.lastAt); d > 0 {
		ts += uint32(uint64(d) * uint64(s.clockRate) / uint64(time.Second))
	}
	return rtcp.SenderReport{
		SSRC:        s.ssrc,
		NTPTime:     NTPTime(now),
		RTPTime:     ts,
		PacketCount: s.packets,
		OctetCount:  s.octets,
	}, true
}

// RTT is the round trip a reception report reveals about our sender reports
// (RFC 3550 §6.4.1: arrival − LSR − DLSR), received at now. ok is false when
// the report carries no LSR or the arithmetic is inconsistent.
func RTT(rr rtcp.ReceptionReport, now time.Time) (time.Duration, bool) {
	if rr.LastSenderReport == 0 {
		return 0, false
	}
	a := ntpMiddle(NTPTime(now))
	rtt := int32(a - rr.LastSenderReport - rr.Delay)
	if rtt < 0 {
		return 0, false
	}
	return time.Duration(rtt) * time.Second / 65536, true
}
