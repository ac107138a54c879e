package sfu

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/seatsfu/seatsfu/media"
)

// Probing (PROTOCOL.md §9). A viewer's estimate can only creep up to what
// is sent (media/bwe.go), so a viewer whose slots the allocator holds
// below what it asked for — paused, or on a lower layer — would climb back
// by trial and compounding growth. Instead, while the allocator wants more
// than the estimate (each round ends in wantProbe), the writer sends a
// probe cluster: padding for probeLength, so that media and padding
// together run a step (probeStep ×) above the estimate, and the estimator
// raises the estimate to what the cluster carried if the transport-wide
// feedback shows it delivered. The allocator, woken by the higher
// estimate, upgrades.
//
// The padding is RTX padding-only packets (RFC 4588 on the slot's RTX
// SSRC, padding bit set, no payload): a receiver counts them in its
// transport-wide feedback and then drops them (libwebrtc and Pion both:
// an RTX packet with no original sequence number is a probe). They take
// sequence numbers of the RTX stream only, which nothing maps, so the
// media stream's numbering, the rewriter's mapping and the NACK path are
// untouched.
//
// Viewers that negotiated transport-cc but not RTX get no probes. Padding
// on the media SSRC would need fresh media sequence numbers (a repeated
// one is dropped by the receiver's SRTP replay check before its feedback
// counts it), and a number taken out of the media stream shifts the
// rewriter's source-to-slot mapping: NACKs for the packets before it, late
// packets, and sender reports would all need the shift's history. Every
// browser offers RTX, so those viewers keep the trial resume of
// allocate.go. Viewers without transport-cc have no estimate and get
// nothing limited, so nothing to probe.
//
// Bounded: a failed probe doubles the wait before the next (probeEveryMin
// up to probeEveryMax), and padding is spent from a per-viewer and a
// per-node token bucket (Adapt); a probe whose budget runs out ends early.
const (
	// probeLength: long enough for a rate to show in arrival times (tens
	// of packets at a Mbit/s), short enough that a probe at twice the
	// estimate into a link at its capacity queues well under the
	// estimator's congestion delay (with 80 ms, a viewer capped at 1
	// Mbit/s paused its last seat more often probed than unprobed, in one
	// noisy run).
	probeLength   = 40 * time.Millisecond
	probeTick     = 5 * time.Millisecond
	probeStep     = 2.0 // GCC probes at 2× the estimate after its first
	probeEveryMin = 500 * time.Millisecond
	probeEveryMax = time.Second
	// paddingSize is the most one RTP packet's padding can be (its
	// length is one byte); paddingHeader is a padding packet's header:
	// 12 bytes and the transport-wide sequence number's one-byte
	// extension (4 + 4).
	paddingSize   = 255
	paddingHeader = 12 + 8

	defaultProbeViewerRate = 500_000
	defaultProbeNodeRate   = 50_000_000
	// probeBurst: each bucket holds this long of its rate, so one probe
	// (a 4 Mbit/s estimate probed at 8 Mbit/s for 40 ms is 20 KB) fits
	// the viewer's default.
	probeBurst = 2 * time.Second
)

// Adapt tunes per-viewer bandwidth adaptation (PROTOCOL.md §9); a zero
// field takes its default.
type Adapt struct {
	// BWE are the estimator's thresholds (media.BWEConfig).
	BWE media.BWEConfig
	// NoProbing turns probing off: estimates rise by growth alone.
	NoProbing bool
	// ProbeViewerRate is the padding a viewer may get on average, bit/s,
	// in bursts of up to two seconds' worth; zero means 500 kbit/s.
	ProbeViewerRate int64
	// ProbeNodeRate is the padding the node may send, bit/s, all viewers
	// together; zero means 50 Mbit/s.
	ProbeNodeRate int64
}

func (a Adapt) validate() error {
	if a.ProbeViewerRate < 0 || a.ProbeNodeRate < 0 {
		return fmt.Errorf("sfu: negative probe rate %+v", a)
	}
	return a.BWE.Validate()
}

func (a Adapt) viewerRate() int64 {
	if a.ProbeViewerRate == 0 {
		return defaultProbeViewerRate
	}
	return a.ProbeViewerRate
}

func (a Adapt) nodeRate() int64 {
	if a.ProbeNodeRate == 0 {
		return defaultProbeNodeRate
	}
	return a.ProbeNodeRate
}

// bucket is a token bucket of bytes at bps bit/s.
func bucket(bps int64) *rate.Limiter {
	perSec := float64(bps) / 8
	return rate.NewLimiter(rate.Limit(perSec), int(perSec*probeBurst.Seconds()))
}

// What seatsfu_probes_total counts: a probe's verdict.
const (
	probeDelivered = iota
	probeFailed
	probeResults
)

var probeResultNames = [probeResults]string{"delivered", "failed"}

// probeMetrics are seatsfu_probe_bytes_total and seatsfu_probes_total.
type probeMetrics struct {
	bytes   prometheus.Counter
	results [probeResults]prometheus.Counter
	cut     prometheus.Counter
}

func newProbeMetrics(ns string) (probeMetrics, []prometheus.Collector) {
	m := probeMetrics{
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "probe_bytes_total",
			Help: "Padding bytes sent to viewers to probe their downlinks (headers included)."}),
		cut: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "probes_cut_total",
			Help: "Probes ended early: the viewer's or the node's probe budget ran out."}),
	}
	results := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "probes_total",
		Help: "Downlink probes judged, by verdict: delivered (the estimate rose to what it carried) or failed."}, []string{"result"})
	for i, n := range probeResultNames {
		m.results[i] = results.WithLabelValues(n)
	}
	return m, []prometheus.Collector{m.bytes, m.cut, results}
}

// NoProbing turns probing off for one subscriber (tests compare a viewer
// with and without it in one run; an edge could offer it to clients that
// pay per byte).
func NoProbing() PeerOption {
	return func(h *peerHooks) { h.noProbe = true }
}

// probeState is a viewer's prober. want is the allocator's (any
// goroutine); the rest is the writer's.
type probeState struct {
	// due: the allocator asks for a probe (allowed by nextAt); the
	// writer's idle check is this one load, and active, beside it.
	due    atomic.Bool
	active bool
	want   atomic.Int64 // bit/s the allocator would use; 0: it has what it wants
	// nextAt (unix nanoseconds): no probe before, set by the writer.
	nextAt atomic.Int64
	// deliveredAt (unix nanoseconds) is set by the writer on each
	// delivered probe, after deliveredBps, the rate it carried, for the
	// allocator (allocate.go).
	deliveredAt, deliveredBps atomic.Int64

	budget  *rate.Limiter // the viewer's padding bucket; made on first use
	end     time.Time     // the cluster's last padding
	last    time.Time     // padding owed up to here
	padRate float64       // bit/s of padding in the cluster
	owed    float64       // bytes
	every   time.Duration
	hdr     rtp.Header
}

// wantProbe records that the allocator would use want bit/s (0: nothing
// more than it has) and, when a probe may go now and v can carry one,
// wakes the writer to send it. Called by the allocator at the end of each
// round (so a probe that is not sent now is asked for again next round).
func (v *viewer) wantProbe(want int64, now time.Time) {
	if v.room.s.cfg.Adapt.NoProbing || v.hooks.noProbe {
		return // want stays 0
	}
	p := &v.probe
	p.want.Store(want)
	if want == 0 || now.UnixNano() < p.nextAt.Load() || !v.probeable() {
		return
	}
	if !p.due.Swap(true) {
		v.schedule()
	}
}

// probeable: v negotiated transport-cc and RTX on a video slot. Safe from
// any goroutine.
func (v *viewer) probeable() bool {
	for _, sl := range v.slots {
		if bt := sl.bound.Load(); sl.kind == videoIdx && bt != nil && bt.rtxSSRC != 0 && bt.twccID != 0 {
			return true
		}
	}
	return false
}

// probeStep runs the viewer's prober: it starts a cluster when the
// allocator asked for one, sends the padding due, and ends the cluster. It
// returns when it wants to run again (zero: not until woken). Called by
// the writer, from pace(), on every wake.
func (v *viewer) probeStep() time.Time {
	p := &v.probe
	if !p.active && !p.due.Load() {
		return time.Time{} // the common case: one atomic load per wake
	}
	now := time.Now()
	if !p.active && !v.startProbe(now) {
		return time.Time{}
	}
	bwe := v.tcc.bwe
	p.owed += p.padRate / 8 * now.Sub(p.last).Seconds()
	p.last = now
	cut := false
	for p.owed >= paddingSize && !cut {
		sl, bt := v.paddingSlot()
		if sl == nil {
			cut = true
			break
		}
		const size = paddingHeader + paddingSize
		s := v.room.s
		if !p.budget.AllowN(now, size) || !s.probeBudget.AllowN(now, size) {
			s.m.probe.cut.Inc()
			cut = true
			break
		}
		if !v.sendPadding(sl, bt) {
			cut = true
			break
		}
		s.m.probe.bytes.Add(size)
		p.owed -= paddingSize
	}
	if !bwe.Probing() {
		cut = true // a decrease while it was out aborted the cluster
	}
	if cut || !now.Before(p.end) {
		bwe.EndProbe(now)
		p.active = false
		if p.every == 0 {
			p.every = probeEveryMin
		}
		p.nextAt.Store(now.Add(p.every).UnixNano())
		return time.Time{}
	}
	return now.Add(probeTick)
}

// startProbe opens a cluster if the estimate is below what the allocator
// wants and v can carry padding: padding at the rate that brings what is
// sent to probeStep × the estimate (no more than wanted). Called by the
// writer.
func (v *viewer) startProbe(now time.Time) bool {
	p := &v.probe
	p.due.Store(false)
	bwe := v.tcc.bwe
	if bwe == nil || bwe.Probing() {
		return false // no transport-cc; or the last probe's verdict is not in
	}
	want := p.want.Load()
	est, ok := bwe.Estimate()
	if !ok || want <= est {
		return false
	}
	if sl, _ := v.paddingSlot(); sl == nil {
		return false
	}
	target := min(probeStep*float64(est), float64(want))
	p.padRate = target - bwe.SentRate(now, rateOver)
	if p.padRate < float64(est)/10 {
		return false // media alone is near the target: nothing to prove
	}
	if p.budget == nil {
		p.budget = bucket(v.room.s.cfg.Adapt.viewerRate())
	}
	bwe.StartProbe()
	p.active, p.last, p.end, p.owed = true, now, now.Add(probeLength), 0
	return true
}

// rateOver is the window the media rate under a probe is measured over.
const rateOver = 500 * time.Millisecond

// onProbeResult counts a judged probe and sets when the next may go: soon
// after a delivered one (there may be more headroom), later and later
// after failed ones (the link is at its capacity; probing it again only
// queues). Called by the writer.
func (v *viewer) onProbeResult(r media.ProbeResult) {
	p := &v.probe
	v.room.s.log.Debug("probe judged", "user", v.user, "delivered", r.Delivered, "sentBps", int64(r.SentBps), "recvBps", int64(r.RecvBps), "sent", r.Sent, "lost", r.Lost)
	if r.Delivered {
		v.room.s.m.probe.results[probeDelivered].Inc()
		p.every = probeEveryMin
		p.deliveredBps.Store(int64(min(r.SentBps, r.RecvBps)))
		p.deliveredAt.Store(time.Now().UnixNano())
	} else {
		v.room.s.m.probe.results[probeFailed].Inc()
		p.every = min(2*max(p.every, probeEveryMin), probeEveryMax)
	}
	p.nextAt.Store(p.last.Add(p.every).UnixNano())
}

// paddingSlot is a slot of v's that can carry padding: video, RTX
// negotiated, its connection up. Called by the writer (live is the
// writer's).
func (v *viewer) paddingSlot() (*slot, *boundTrack) {
	for _, sl := range v.slots {
		if sl.kind != videoIdx || !sl.live {
			continue
		}
		if bt := sl.bound.Load(); bt != nil && bt.rtxSSRC != 0 && bt.twccID != 0 {
			return sl, bt
		}
	}
	return nil, nil
}

// lastTimestamp is the slot's latest out timestamp, which its padding
// carries. Called by the writer with sl.mu held.
func (sl *slot) lastTimestamp() uint32 {
	if sl.rw == nil {
		return 0
	}
	return sl.rw.LastTimestamp()
}

// sendPadding writes one padding-only packet on sl's RTX stream, stamped
// for the estimator, through the slot's write seam like a retransmission:
// the header carries the padding (Padding, PaddingSize) and the payload is
// empty, so whatever marshals it must append PaddingSize bytes (Pion's
// rtp.MarshalPacketTo does). Called by the writer.
func (v *viewer) sendPadding(sl *slot, bt *boundTrack) bool {
	sl.mu.Lock() // rtxSeq is shared with retransmit's RTX
	defer sl.mu.Unlock()
	h := &v.probe.hdr
	*h = rtp.Header{Version: 2, Padding: true, PaddingSize: paddingSize, PayloadType: bt.rtxPT,
		SequenceNumber: sl.rtxSeq, Timestamp: sl.lastTimestamp(), SSRC: bt.rtxSSRC}
	sl.rtxSeq++
	v.stamp(h, bt, paddingSize)
	n, err := bt.w.WriteRTP(h, nil)
	return err == nil && n > 0
}
