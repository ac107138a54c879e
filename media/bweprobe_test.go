package media

import (
	"testing"
	"time"

	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
)

// simLink is runLink's bottleneck driven in 1 ms steps, so that media
// (1200-byte packets) and probe padding (255-byte packets) can share it.
type simLink struct {
	e         *DownlinkEstimator
	rec       *twcc.Recorder
	seq       uint16
	now       time.Time
	nextFB    time.Time
	queueFree time.Time
	capacity  float64 // bit/s, 0: unlimited
	queue     int     // bytes
	owed      [2]float64
}

func newSimLink(e *DownlinkEstimator, capacity float64) *simLink {
	now := time.Unix(1_800_000_000, 0)
	return &simLink{e: e, rec: twcc.NewRecorder(1), now: now, nextFB: now.Add(100 * time.Millisecond), capacity: capacity, queue: 64 << 10}
}

// run sends mediaBps of media and padBps of padding for d.
func (l *simLink) run(d time.Duration, mediaBps, padBps float64) {
	end := l.now.Add(d)
	for l.now.Before(end) {
		for i, r := range [2]float64{mediaBps, padBps} {
			size := [2]int{1200, 255}[i]
			l.owed[i] += r / 8 / 1000
			for l.owed[i] >= float64(size) {
				l.owed[i] -= float64(size)
				l.send(size)
			}
		}
		l.now = l.now.Add(time.Millisecond)
		if !l.now.Before(l.nextFB) {
			for _, p := range l.rec.BuildFeedbackPacket() {
				if fb, ok := p.(*rtcp.TransportLayerCC); ok {
					l.e.Feedback(fb, l.now.Add(10*time.Millisecond))
				}
			}
			l.nextFB = l.nextFB.Add(100 * time.Millisecond)
		}
	}
}

func (l *simLink) send(size int) {
	l.e.Sent(l.seq, l.now, size)
	arrive := l.now.Add(10 * time.Millisecond)
	if l.capacity > 0 {
		if l.queueFree.Before(l.now) {
			l.queueFree = l.now
		}
		backlog := l.queueFree.Sub(l.now).Seconds() * l.capacity / 8
		if backlog+float64(size) > float64(l.queue) {
			l.seq++
			return // dropped: the recorder reports the gap
		}
		l.queueFree = l.queueFree.Add(time.Duration(float64(size*8) / l.capacity * float64(time.Second)))
		arrive = l.queueFree.Add(10 * time.Millisecond)
	}
	l.rec.Record(5, l.seq, arrive.UnixMicro())
	l.seq++
}

// probe runs one probe: padBps on top of mediaBps for 300 ms, then media
// alone until the verdict is in.
func (l *simLink) probe(t *testing.T, mediaBps, padBps float64) ProbeResult {
	t.Helper()
	l.e.StartProbe()
	l.run(300*time.Millisecond, mediaBps, padBps)
	l.e.EndProbe(l.now)
	for range 20 {
		l.run(100*time.Millisecond, mediaBps, 0)
		if r, ok := l.e.TakeProbeResult(); ok {
			return r
		}
	}
	t.Fatal("no verdict on the probe within 2 s")
	return ProbeResult{}
}

// congested brings the estimator to a limit on a 1 Mbit/s link.
func congested(t *testing.T, l *simLink) int64 {
	t.Helper()
	l.run(3*time.Second, 3e6, 0)
	bps, ok := l.e.Estimate()
	if !ok || bps > 1_100_000 {
		t.Fatalf("estimate %d (ok %v) over a 1 Mbit/s link sent 3 Mbit/s", bps, ok)
	}
	l.run(2*time.Second, float64(bps)*0.8, 0) // settle under it
	bps, _ = l.e.Estimate()
	return bps
}

// A link whose cap lifted: a probe at twice the estimate is delivered and
// the estimate jumps to what the probe carried, at once, where the additive
// growth would take seconds and never pass twice what media delivers.
func TestProbeDeliveredRaisesTheEstimate(t *testing.T) {
	l := newSimLink(NewDownlinkEstimator(), 1e6)
	before := congested(t, l)
	l.capacity = 0
	media := float64(before) * 0.8
	r := l.probe(t, media, float64(before)*2-media)
	after, _ := l.e.Estimate()
	if !r.Delivered {
		t.Fatalf("probe on a free link not delivered: %+v", r)
	}
	if float64(after) < 1.7*float64(before) {
		t.Fatalf("estimate %d after a delivered probe at %.0f bit/s (before %d)", after, r.SentBps, before)
	}
	if float64(after) > 1.05*r.SentBps {
		t.Fatalf("estimate %d over what the probe sent (%.0f)", after, r.SentBps)
	}
}

// A link still at its cap: the probe queues at the bottleneck, arrives
// slower than it was sent, and the estimate does not rise past the link.
func TestProbeOverTheCapIsNotDelivered(t *testing.T) {
	l := newSimLink(NewDownlinkEstimator(), 1e6)
	before := congested(t, l)
	media := float64(before) * 0.8
	r := l.probe(t, media, float64(before)*2-media)
	after, _ := l.e.Estimate()
	if r.Delivered {
		t.Fatalf("a probe at twice a 1 Mbit/s link counted as delivered: %+v", r)
	}
	if after > max(before, 1_100_000) {
		t.Fatalf("estimate rose from %d to %d on a probe that was not delivered", before, after)
	}
}

// A lossy probe is not delivered, whatever its rates.
func TestLossyProbeIsNotDelivered(t *testing.T) {
	e := NewDownlinkEstimator()
	l := newSimLink(e, 1e6)
	before := congested(t, l)
	l.capacity = 0
	e.StartProbe()
	l.run(150*time.Millisecond, float64(before), 1e6)
	l.seq += 40 // 40 packets that never arrive (sent, then lost)
	for i := range 40 {
		e.Sent(l.seq-40+uint16(i), l.now, 255)
	}
	l.run(150*time.Millisecond, float64(before), 1e6)
	e.EndProbe(l.now)
	l.run(time.Second, float64(before)*0.8, 0)
	r, ok := e.TakeProbeResult()
	if !ok || r.Delivered {
		t.Fatalf("probe with losses judged %+v (judged %v)", r, ok)
	}
}

func TestSentRate(t *testing.T) {
	e := NewDownlinkEstimator()
	now := time.Unix(1_800_000_000, 0)
	for i := range 100 { // 100 × 1250 B over 1 s: 1 Mbit/s
		e.Sent(uint16(i), now.Add(time.Duration(i)*10*time.Millisecond), 1250)
	}
	if got := e.SentRate(now.Add(time.Second), 500*time.Millisecond); got < 0.95e6 || got > 1.05e6 {
		t.Fatalf("sent rate %.0f, want 1 Mbit/s", got)
	}
}

func TestBWEConfigValidate(t *testing.T) {
	if err := (BWEConfig{}).Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, c := range []BWEConfig{{LossLow: 0.2}, {LossHigh: 1.5}, {DelayLow: time.Second}, {LossLow: -1}} {
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// Thresholds are settings: a viewer whose link loses 5 % at random stays
// unlimited with loss-high at 0.15 where the default calls it congested.
func TestLossThresholdIsASetting(t *testing.T) {
	for _, tc := range []struct {
		cfg       BWEConfig
		congested bool
	}{{BWEConfig{LossLow: 0.06}, false}, {BWEConfig{LossHigh: 0.04}, true}} {
		e := NewDownlinkEstimatorWith(tc.cfg)
		l := newSimLink(e, 0)
		// About 20 packets each 100 ms, one of them lost: 5 %.
		for range 30 {
			l.run(100*time.Millisecond, 2e6, 0)
			e.Sent(l.seq, l.now, 1200)
			l.seq++
		}
		if _, ok := e.Estimate(); ok != tc.congested {
			t.Errorf("%+v: limited %v, want %v", tc.cfg, ok, tc.congested)
		}
	}
}

// A probe whose feedback never comes is judged, not delivered, once
// probeTimeout passed, on whatever feedback comes next: it does not block
// the next probe.
func TestProbeWithoutFeedbackTimesOut(t *testing.T) {
	e := NewDownlinkEstimator()
	l := newSimLink(e, 1e6)
	congested(t, l)
	e.StartProbe()
	for i := range 20 { // sent, and never reported
		e.Sent(l.seq+uint16(i), l.now, 255)
	}
	l.seq += 20
	l.rec = twcc.NewRecorder(1) // the recorder never saw them: no feedback names them
	e.EndProbe(l.now)
	if !e.Probing() {
		t.Fatal("an ended probe awaiting its verdict is not probing")
	}
	l.run(probeTimeout+200*time.Millisecond, 0.5e6, 0)
	r, ok := e.TakeProbeResult()
	if !ok || r.Delivered || e.Probing() {
		t.Fatalf("after the timeout: verdict %+v (judged %v), probing %v", r, ok, e.Probing())
	}
}

// A decrease while a probe is out aborts it: not delivered.
func TestDecreaseAbortsTheProbe(t *testing.T) {
	e := NewDownlinkEstimator()
	l := newSimLink(e, 1e6)
	before := congested(t, l)
	e.StartProbe()
	l.run(time.Second, 3e6, 0) // congestion while it is out
	e.EndProbe(l.now)
	r, ok := e.TakeProbeResult()
	if !ok || r.Delivered {
		t.Fatalf("probe through a decrease judged %+v (judged %v)", r, ok)
	}
	if after, _ := e.Estimate(); after > before {
		t.Fatalf("estimate rose from %d to %d through congestion", before, after)
	}
}
