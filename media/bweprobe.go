package media

import "time"

// probeCluster is one probe's packets: every packet sent between
// StartProbe and EndProbe (the padding that makes the probe's rate and the
// media sent meanwhile), by transport-wide sequence number, and what the
// feedback said of them.
type probeCluster struct {
	sending, ended bool
	first, last    uint16 // sequence numbers; last is set by EndProbe
	deadline       time.Time

	sent                int
	sentBytes           int
	sentFirst, sentLast time.Time

	reported, lost int
	recvBytes      int
	recvd          int
	arrFirst       time.Duration // remote arrival of the earliest, latest
	arrLast        time.Duration
	lastRecvSize   int // the latest arrival's size: its bytes came after arrLast's clock started

	judged  bool // outcome is a verdict not yet taken
	outcome ProbeResult
}

// ProbeResult is a judged probe: whether it was delivered, the rate it was
// sent at and the rate it arrived at (bit/s).
type ProbeResult struct {
	Delivered        bool
	SentBps, RecvBps float64
	// Packets of the cluster: sent, and reported lost.
	Sent, Lost int
}

// StartProbe opens a probe cluster: the packets Sent from now until
// EndProbe belong to it. A probe still being judged, or a verdict not
// taken, is dropped.
func (e *DownlinkEstimator) StartProbe() {
	e.probe = probeCluster{sending: true, first: e.lastSent + 1}
}

// EndProbe closes the cluster opened by StartProbe; the feedback about its
// packets judges it (TakeProbeResult), within probeTimeout of now.
func (e *DownlinkEstimator) EndProbe(now time.Time) {
	p := &e.probe
	if !p.sending {
		return
	}
	p.sending, p.ended = false, true
	p.last = e.lastSent
	p.deadline = now.Add(probeTimeout)
	if p.sent == 0 {
		*p = probeCluster{}
	}
}

// Probing reports whether a probe is open or waiting to be judged.
func (e *DownlinkEstimator) Probing() bool { return e.probe.sending || e.probe.ended }

// TakeProbeResult returns the last judged probe's result, once.
func (e *DownlinkEstimator) TakeProbeResult() (ProbeResult, bool) {
	p := &e.probe
	if !p.judged {
		return ProbeResult{}, false
	}
	p.judged = false
	return p.outcome, true
}

// covers reports whether seq is one of the cluster's packets.
func (p *probeCluster) covers(seq uint16) bool {
	if !p.sending && !p.ended {
		return false
	}
	if int16(seq-p.first) < 0 {
		return false
	}
	return p.sending || int16(p.last-seq) >= 0
}

func (p *probeCluster) received(size int, arrival time.Duration) {
	if p.recvd == 0 || arrival < p.arrFirst {
		p.arrFirst = arrival
	}
	if p.recvd == 0 || arrival >= p.arrLast {
		p.arrLast, p.lastRecvSize = arrival, size
	}
	p.recvd++
	p.recvBytes += size
}

// abort ends the cluster without a verdict that raises anything: a
// decrease happened while it was out.
func (p *probeCluster) abort() {
	if p.sending || p.ended {
		*p = probeCluster{judged: true}
	}
}

// judgeProbe judges an ended cluster once all its feedback is in (or
// probeTimeout passed), raising the estimate when it was delivered.
func (e *DownlinkEstimator) judgeProbe(now time.Time) {
	p := &e.probe
	if !p.ended || (p.reported < p.sent && now.Before(p.deadline)) {
		return
	}
	r := ProbeResult{Sent: p.sent, Lost: p.lost}
	// Rates over the spans between the first and the last packet: the
	// last packet's bytes are outside the span they close.
	if span := p.sentLast.Sub(p.sentFirst); span > 0 && p.sent > 1 {
		r.SentBps = float64((p.sentBytes-p.sentBytes/p.sent)*8) / span.Seconds()
	}
	if span := p.arrLast - p.arrFirst; span > 0 && p.recvd > 1 {
		r.RecvBps = float64((p.recvBytes-p.lastRecvSize)*8) / span.Seconds()
	}
	loss := 1.0
	if p.reported > 0 {
		loss = float64(p.lost) / float64(p.reported)
	}
	r.Delivered = r.SentBps > 0 && p.reported >= p.sent/2 && loss <= e.cfg.LossLow && r.RecvBps >= probeDelivered*r.SentBps
	if r.Delivered {
		// What the link carried, no more than what was asked of it: a
		// receive rate over the send rate is arrival jitter.
		if got := min(r.SentBps, r.RecvBps); got > e.estimate {
			e.estimate = got
		}
	}
	*p = probeCluster{judged: true, outcome: r}
}

// SentRate is the rate (bit/s) of what was Sent in the over before now, from
// the record of sent packets (so at most sentRing of them).
func (e *DownlinkEstimator) SentRate(now time.Time, over time.Duration) float64 {
	if over <= 0 {
		return 0
	}
	cut := now.Add(-over).UnixNano()
	bytes := 0
	seq := e.lastSent
	for range sentRing {
		sp := &e.sent[seq%sentRing]
		if sp.seq != seq || sp.at == 0 || sp.at < cut {
			break
		}
		bytes += int(sp.size)
		seq--
	}
	return float64(bytes*8) / over.Seconds()
}
