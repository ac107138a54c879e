package media

import (
	"fmt"
	"time"

	"github.com/pion/rtcp"
)

// DownlinkEstimator estimates what one subscriber's downlink carries from
// transport-wide congestion control feedback (draft-holmer-rmcat-transport-
// wide-cc-extensions): the SFU numbers every packet it sends to the
// subscriber (Sent), the subscriber reports when each arrived or that it
// did not (Feedback). From that it keeps the rate the link delivered, the
// loss, and the queuing delay — the one-way delay above the least seen,
// which grows when packets queue at a bottleneck before loss starts.
//
// The control is a loss- and delay-based AIMD, simpler than GCC's Kalman
// trendline and enough to steer a layer allocator: on congestion (loss over
// LossHigh, or queuing delay over DelayHigh in delayReports feedbacks in a
// row) the estimate drops to decrease × the delivered rate, at most once per
// decreaseEvery; with neither for holdAfterDecrease it grows by
// increasePerSec, but not past growCeiling × the delivered rate: what was
// never sent cannot be proven to fit. Only congestion lowers it.
//
// Probes (StartProbe, EndProbe) prove what was not sent: the caller sends a
// cluster of extra (padding) packets at a rate above the estimate for a
// short window, and when the feedback shows the cluster delivered — its loss
// at most LossLow, and received at least probeDelivered × the rate it was
// sent at — the estimate rises to the rate the cluster arrived at. A probe
// that was not delivered changes nothing (its losses, if any, count as
// congestion like any other's).
//
// It is not safe for concurrent use (one writer goroutine owns it) and
// allocates nothing after construction.
type DownlinkEstimator struct {
	sent [sentRing]sentPacket

	// Delivered-rate window: received bytes and the arrival span.
	win []window

	minDelay    time.Duration // least one-way delay (remote clock − local), decaying
	minDelayAt  time.Time
	queueDelay  time.Duration // the last feedback's mean queuing delay
	delayedRun  int           // consecutive feedbacks with queueDelay over DelayHigh
	loss        float64       // the last window's loss ratio
	estimate    float64       // bit/s; 0 until known
	decreasedAt time.Time
	// Sequence numbers: the last sent, and the last sent when the
	// estimate was last lowered. Only packets sent after that decrease
	// count from then on: the queue the decrease answered takes a round
	// trip to drain, and lowering again for the same queue (its losses,
	// its delay) would cut the estimate to nothing.
	lastSent, decreaseMark uint16
	updatedAt              time.Time
	started                time.Time

	cfg   BWEConfig
	probe probeCluster
}

const (
	// sentRing is how many packets are remembered for their feedback (a
	// power of two): 2048 is over a second at the 1,500 packets a second of
	// a full room's high layers, ten feedback intervals; 32 KiB a
	// subscriber.
	sentRing = 2048

	// The control loop's dynamics below are tied to each other and to
	// the feedback cadence (a browser's every 50–100 ms), not to the
	// network: a faster decrease or increase makes the allocator flap
	// between layers, a slower one leaves a congested viewer frozen
	// longer. They are not settings; the thresholds that depend on the
	// viewers' networks are (BWEConfig).
	//
	// delayReports: queuing delay must hold for this many feedbacks in a
	// row — one late report is a busy receiver or sender, a bottleneck's
	// queue lasts.
	delayReports      = 2
	decrease          = 0.85
	decreaseEvery     = 300 * time.Millisecond
	holdAfterDecrease = time.Second
	increasePerSec    = 0.5 // +50 %/s, compounding per feedback
	growCeiling       = 2.0
	rateWindow        = 500 * time.Millisecond // delivered rate measured over about this
	// minDelayMemory: the least delay is forgotten slowly, so a route
	// change that lengthens the path does not read as congestion forever.
	minDelayMemory = 10 * time.Second
	// warmup: the first estimate needs this much feedback.
	warmup = 500 * time.Millisecond

	// probeDelivered: a probe cluster whose receive rate is under this
	// share of its send rate queued at a bottleneck on the way — the
	// link is at its capacity, not above the estimate.
	probeDelivered = 0.9
	// probeTimeout: a cluster whose feedback is not all in this long
	// after its last packet is judged on what arrived (feedback lost).
	probeTimeout = time.Second
)

// BWEConfig are the estimator's thresholds that depend on the networks the
// viewers are on, so an operator may tune them; a zero field takes the
// default (DefaultBWEConfig).
type BWEConfig struct {
	// LossHigh is the loss ratio over which the link is congested. A
	// mobile audience whose radio links lose a few percent at random,
	// congestion or not, may need it higher.
	LossHigh float64
	// LossLow is the loss ratio under which (with the queuing delay under
	// DelayLow) the estimate may grow, and the most a probe may lose and
	// count as delivered.
	LossLow float64
	// DelayHigh is the queuing delay that, held for two feedbacks in a
	// row, is congestion; links with much jitter (Wi-Fi, satellite) may
	// need it higher.
	DelayHigh time.Duration
	// DelayLow is the queuing delay under which the estimate may grow.
	DelayLow time.Duration
}

// DefaultBWEConfig: loss over 10 % is congestion and under 2 % is not (GCC's
// thresholds); 80 ms of queue is a bottleneck filling, 15 ms is jitter.
func DefaultBWEConfig() BWEConfig {
	return BWEConfig{LossHigh: 0.10, LossLow: 0.02, DelayHigh: 80 * time.Millisecond, DelayLow: 15 * time.Millisecond}
}

// Validate reports a configuration the estimator cannot work with.
func (c BWEConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.LossHigh <= 0 || c.LossHigh >= 1 || c.LossLow <= 0 || c.LossLow >= c.LossHigh:
		return fmt.Errorf("media: loss thresholds must be 0 < low (%v) < high (%v) < 1", c.LossLow, c.LossHigh)
	case c.DelayLow <= 0 || c.DelayLow >= c.DelayHigh:
		return fmt.Errorf("media: delay thresholds must be 0 < low (%v) < high (%v)", c.DelayLow, c.DelayHigh)
	}
	return nil
}

func (c BWEConfig) withDefaults() BWEConfig {
	d := DefaultBWEConfig()
	if c.LossHigh == 0 {
		c.LossHigh = d.LossHigh
	}
	if c.LossLow == 0 {
		c.LossLow = d.LossLow
	}
	if c.DelayHigh == 0 {
		c.DelayHigh = d.DelayHigh
	}
	if c.DelayLow == 0 {
		c.DelayLow = d.DelayLow
	}
	return c
}

// sentPacket is 16 bytes: the ring is per subscriber.
type sentPacket struct {
	at   int64 // unix nanoseconds
	size uint32
	seq  uint16
	ok   bool
}

type window struct {
	at       time.Time // local time of the feedback
	bytes    int
	received int
	lost     int
	first    time.Duration // earliest remote arrival in it
	last     time.Duration // latest
}

// NewDownlinkEstimator returns an estimator with nothing known and the
// default thresholds.
func NewDownlinkEstimator() *DownlinkEstimator {
	return NewDownlinkEstimatorWith(BWEConfig{})
}

// NewDownlinkEstimatorWith returns an estimator with nothing known and the
// thresholds of cfg (a zero field: the default).
func NewDownlinkEstimatorWith(cfg BWEConfig) *DownlinkEstimator {
	return &DownlinkEstimator{win: make([]window, 0, 64), cfg: cfg.withDefaults()}
}

// Sent records transport-wide sequence number seq leaving at at with size
// bytes on the wire (header and payload).
func (e *DownlinkEstimator) Sent(seq uint16, at time.Time, size int) {
	e.sent[seq%sentRing] = sentPacket{at: at.UnixNano(), size: uint32(size), seq: seq, ok: true}
	e.lastSent = seq
	if p := &e.probe; p.sending {
		p.sent++
		p.sentBytes += size
		if p.sent == 1 {
			p.sentFirst = at
		}
		p.sentLast = at
	}
}

// Feedback applies one transport-wide feedback packet received at now.
func (e *DownlinkEstimator) Feedback(fb *rtcp.TransportLayerCC, now time.Time) {
	if e.started.IsZero() {
		e.started = now
	}
	w := window{at: now, first: 1<<63 - 1}
	ref := time.Duration(fb.ReferenceTime) * 64 * time.Millisecond
	arrival := ref
	seq := fb.BaseSequenceNumber
	deltas := fb.RecvDeltas
	var qsum time.Duration
	var qn int
	visit := func(status uint16) {
		defer func() { seq++ }()
		sp := &e.sent[seq%sentRing]
		// Packets sent before the last decrease tell of the queue that
		// decrease answered: they do not count again.
		known := sp.ok && sp.seq == seq && (e.decreasedAt.IsZero() || int16(seq-e.decreaseMark) > 0)
		switch status {
		case rtcp.TypeTCCPacketNotReceived:
			if known {
				w.lost++
				if e.probe.covers(seq) {
					e.probe.reported++
					e.probe.lost++
				}
			}
			return
		case rtcp.TypeTCCPacketReceivedSmallDelta, rtcp.TypeTCCPacketReceivedLargeDelta:
			if len(deltas) == 0 {
				return
			}
			arrival += time.Duration(deltas[0].Delta) * time.Microsecond
			deltas = deltas[1:]
		default:
			return
		}
		if !known {
			return
		}
		inProbe := e.probe.covers(seq)
		if inProbe {
			e.probe.reported++
		}
		sp.ok = false // reported: a duplicate feedback must not count it twice
		w.received++
		w.bytes += int(sp.size)
		w.first, w.last = min(w.first, arrival), max(w.last, arrival)
		// One-way delay up to the (unknown, constant) clock offset.
		d := arrival - time.Duration(sp.at)
		if e.minDelayAt.IsZero() || d < e.minDelay || now.Sub(e.minDelayAt) > minDelayMemory {
			e.minDelay, e.minDelayAt = d, now
		}
		qsum += d - e.minDelay
		qn++
		if inProbe {
			e.probe.received(int(sp.size), arrival)
		}
	}
	left := int(fb.PacketStatusCount)
	for _, c := range fb.PacketChunks {
		if left <= 0 {
			break
		}
		switch c := c.(type) {
		case *rtcp.RunLengthChunk:
			for i := 0; i < int(c.RunLength) && left > 0; i, left = i+1, left-1 {
				visit(c.PacketStatusSymbol)
			}
		case *rtcp.StatusVectorChunk:
			for _, s := range c.SymbolList {
				if left <= 0 {
					break
				}
				visit(s)
				left--
			}
		}
	}
	if qn > 0 {
		e.queueDelay = qsum / time.Duration(qn)
		if e.queueDelay > e.cfg.DelayHigh {
			e.delayedRun++
		} else {
			e.delayedRun = 0
		}
	}
	if w.received+w.lost != 0 {
		e.push(w)
		e.update(now)
	}
	// Even feedback about nothing of the cluster's judges it once its
	// time is up, so a probe whose feedback was lost does not block the
	// next.
	e.judgeProbe(now)
}

func (e *DownlinkEstimator) push(w window) {
	// Keep the windows of the last rateWindow (at least two).
	cut := 0
	for cut < len(e.win)-1 && w.at.Sub(e.win[cut].at) > rateWindow {
		cut++
	}
	if cut > 0 {
		e.win = append(e.win[:0], e.win[cut:]...)
	}
	if len(e.win) == cap(e.win) {
		e.win = append(e.win[:0], e.win[1:]...)
	}
	e.win = append(e.win, w)
}

// delivered is the rate the window's feedback shows arriving, bit/s, and
// its loss ratio.
func (e *DownlinkEstimator) delivered() (bps, loss float64) {
	var bytes, received, lost int
	first, last := time.Duration(1<<63-1), time.Duration(-1<<63)
	for _, w := range e.win {
		bytes += w.bytes
		received += w.received
		lost += w.lost
		if w.received > 0 {
			first, last = min(first, w.first), max(last, w.last)
		}
	}
	if received+lost > 0 {
		loss = float64(lost) / float64(received+lost)
	}
	// The arrival span understates the time the bytes took by one
	// packet's spacing; floor it at the feedback span.
	span := last - first
	if fs := e.win[len(e.win)-1].at.Sub(e.win[0].at); fs > span {
		span = fs
	}
	if span < 20*time.Millisecond || received == 0 {
		return 0, loss
	}
	return float64(bytes*8) / span.Seconds(), loss
}

func (e *DownlinkEstimator) update(now time.Time) {
	rate, loss := e.delivered()
	e.loss = loss
	elapsed := now.Sub(e.updatedAt)
	e.updatedAt = now
	if rate == 0 || now.Sub(e.started) < warmup {
		return
	}
	switch {
	case loss > e.cfg.LossHigh || e.delayedRun >= delayReports:
		if now.Sub(e.decreasedAt) >= decreaseEvery {
			// At most halve per step: an outage (a black hole, a
			// stall) delivers nearly nothing, which says the link was
			// down, not that it is that narrow.
			target := decrease * rate
			if e.estimate > 0 {
				target = max(target, e.estimate/2)
			}
			if e.estimate == 0 || target < e.estimate {
				e.estimate = target
			}
			e.decreasedAt, e.decreaseMark = now, e.lastSent
			e.win = e.win[:0] // what follows is measured afresh
			e.probe.abort()   // its packets before the mark no longer count
			e.delayedRun = 0
		}
	case loss < e.cfg.LossLow && e.queueDelay < e.cfg.DelayLow && now.Sub(e.decreasedAt) >= holdAfterDecrease:
		if e.estimate == 0 {
			e.estimate = rate
		}
		// Grow, but not past growCeiling × what was delivered; the
		// ceiling bounds growth only: a sender that chose to send less
		// (a paused slot) does not lower the estimate.
		if elapsed > 0 && elapsed < time.Second {
			grown := e.estimate * (1 + increasePerSec*elapsed.Seconds())
			e.estimate = max(e.estimate, min(grown, growCeiling*rate))
		}
	default:
		if e.estimate == 0 {
			e.estimate = rate
		}
	}
}

// Estimate is the downlink estimate in bit/s. ok is false until the link
// has shown congestion once: before that, all the estimator knows is what
// the sender chose to send, which says nothing about what else would fit
// (a probe raises an estimate, it does not make the first), so it sets no
// limit.
func (e *DownlinkEstimator) Estimate() (bps int64, ok bool) {
	return int64(e.estimate), e.estimate > 0 && !e.decreasedAt.IsZero()
}

// Stats are the last window's loss ratio and queuing delay (for tests and
// logs).
func (e *DownlinkEstimator) Stats() (loss float64, queueDelay time.Duration) {
	return e.loss, e.queueDelay
}
