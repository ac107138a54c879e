package load

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/seatsfu/seatsfu/bench/proc"
)

// Alternating slices (issue 16). The machine's speed drifts: in session 7's
// quiet run every target's CPU per packet fell from its first repeat to its
// third (raw-batched 5.09 → 3.83 µs at 100 viewers, LiveKit 13.6 → 12.1),
// and a ratio of two windows taken minutes apart carries that drift. Here
// every target of a step is set up at once, each server idle while the
// others are measured, and the measuring window is cut into short slices
// taken in turn, the order reversed every round (A B, B A, …), so a drift
// slower than a round falls on every target alike.
//
// A paused target's publishers are off the pacer: its server forwards
// nothing and answers only its viewers' ICE consent checks. Each slice
// opens Settle after its target resumed, so the first frames and the other
// targets' last ones stay out of it; CPU and packets are summed over the
// slices, and each slice's own CPU per packet is kept for the spread.

// AltConfig sizes an alternating run: Config's Duration is unused, the
// window being Rounds slices of Slice per target.
type AltConfig struct {
	Config
	Slice  time.Duration
	Rounds int
	Settle time.Duration
}

func (c *AltConfig) check() error {
	c.Duration = c.Slice // Config.check wants it positive
	if err := c.Config.check(); err != nil {
		return err
	}
	if c.Rounds < 1 {
		return errors.New("load: at least one round of slices")
	}
	if c.Settle <= 0 {
		c.Settle = 300 * time.Millisecond
	}
	return nil
}

// altLeg is one target's side of an alternating run.
type altLeg struct {
	t     Target
	srv   Server
	res   *Result
	st    *stage
	base  proc.Usage // the server with only its publishers
	baseG float64
	mem   memSample

	cpu, sys    time.Duration // summed over the slices
	pkts, bytes uint64
	secs        float64
	expected    uint64
	gaps        uint64
	// While another leg's slice ran: this server's CPU with its viewers
	// connected and no media, and how long.
	idleCPU  time.Duration
	idleSecs float64
}

// FanoutAlternating runs the fan-out scenario on every target at once,
// measured in alternating slices. The results are fan-out results, one per
// target, in ts's order; Result.SliceCPUPerPacketUs holds each slice's
// figure.
func FanoutAlternating(ctx context.Context, ts []Target, cfg AltConfig) ([]*Result, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if len(ts) < 2 {
		return nil, errors.New("load: alternating slices need two targets or more")
	}
	var legs []*altLeg
	defer func() {
		for _, l := range legs {
			reports, subscribed := l.st.close()
			l.res.tallyViewers(reports, subscribed)
			l.res.tallyPhases(reports, subscribed, l.st.phases)
		}
	}()
	for _, t := range ts {
		l, err := setUpLeg(ctx, t, &cfg)
		if l != nil {
			legs = append(legs, l)
		}
		if err != nil {
			return nil, err
		}
	}
	for r := range cfg.Rounds {
		for i := range legs {
			k := i
			if r%2 == 1 {
				k = len(legs) - 1 - i
			}
			idle0 := idleMarks(legs, k)
			t0 := time.Now()
			if err := legs[k].slice(ctx, cfg); err != nil {
				return nil, err
			}
			addIdle(legs, k, idle0, time.Since(t0))
		}
	}
	out := make([]*Result, len(legs))
	for i, l := range legs {
		out[i] = l.finish()
		for _, o := range legs {
			if o != l {
				out[i].AlternatedWith = append(out[i].AlternatedWith, o.srv.Name)
			}
		}
	}
	return out, nil
}

// idleMarks reads the CPU of every leg but the k-th, whose slice is about
// to run.
func idleMarks(legs []*altLeg, k int) []time.Duration {
	marks := make([]time.Duration, len(legs))
	for i, l := range legs {
		if i != k {
			if u, err := l.srv.Usage(); err == nil {
				marks[i] = u.CPU
			} else {
				marks[i] = -1
			}
		}
	}
	return marks
}

// addIdle adds what the other legs spent during the k-th leg's slice.
func addIdle(legs []*altLeg, k int, marks []time.Duration, d time.Duration) {
	for i, l := range legs {
		if i == k || marks[i] < 0 {
			continue
		}
		if u, err := l.srv.Usage(); err == nil {
			l.idleCPU += u.CPU - marks[i]
			l.idleSecs += d.Seconds()
		}
	}
}

// setUpLeg publishes, connects the viewers, warms up with the target alone
// sending, waits for the joins' replays, and pauses it. A leg is returned
// with an error once it has a stage to close.
func setUpLeg(ctx context.Context, t Target, cfg *AltConfig) (*altLeg, error) {
	srv, res, st, err := begin("fanout", t, &cfg.Config)
	if err != nil {
		return nil, err
	}
	l := &altLeg{t: t, srv: srv, res: res, st: st}
	res.Slices = cfg.Rounds
	seats := cfg.Guests + 1
	for seat := range seats {
		if _, err := st.publish(ctx, seat, 0, func(ctx context.Context, offer string) (string, error) {
			return t.Publish(ctx, seat, offer)
		}); err != nil {
			return l, err
		}
	}
	l.base, _ = srv.Usage()
	l.baseG, _ = srv.Metric("go_goroutines")
	l.mem = readMem(srv)
	bar := newBar(cfg.Progress, fmt.Sprintf("%s %s V=%d (alternating)", res.Scenario, srv.Name, cfg.Viewers))
	if err := st.joinAudience(ctx, t, srv, res, &cfg.Config, seats, bar); err != nil {
		return l, err
	}
	bar.done()
	st.pause()
	return l, nil
}

// slice resumes the leg's publishers, measures one slice once it settled,
// and pauses them again.
func (l *altLeg) slice(ctx context.Context, cfg AltConfig) error {
	st, srv := l.st, l.srv
	st.resume()
	defer st.pause()
	if err := sleepCtx(ctx, cfg.Settle); err != nil {
		return err
	}
	st.sink.Measuring.Store(true)
	defer st.sink.Measuring.Store(false)
	u0, err := srv.Usage()
	if err != nil {
		return err
	}
	w0 := st.tally()
	p0, b0, t0 := st.sink.Packets.Load(), st.sink.Bytes.Load(), time.Now()
	if err := sleepCtx(ctx, cfg.Slice); err != nil {
		return err
	}
	u1, err := srv.Usage()
	if err != nil {
		return err
	}
	p1, b1, t1 := st.sink.Packets.Load(), st.sink.Bytes.Load(), time.Now()
	w1 := st.tally()
	cpu := u1.CPU - u0.CPU
	l.cpu += cpu
	l.sys += u1.System - u0.System
	l.pkts += p1 - p0
	l.bytes += b1 - b0
	l.secs += t1.Sub(t0).Seconds()
	l.expected += w1.expected - w0.expected
	l.gaps += w1.gaps - w0.gaps
	if p1 > p0 {
		l.res.SliceCPUPerPacketUs = append(l.res.SliceCPUPerPacketUs, cpu.Seconds()*1e6/float64(p1-p0))
	}
	return nil
}

// finish fills the leg's result from its slices' sums and its server now.
func (l *altLeg) finish() *Result {
	res, srv, st := l.res, l.srv, l.st
	res.Seconds = l.secs
	if l.secs <= 0 {
		return res
	}
	res.ExpectedPPS = st.publishedPPS() * float64(res.Connected)
	res.ForwardedPPS = float64(l.pkts) / l.secs
	res.ForwardedMbps = float64(l.bytes) * 8 / l.secs / 1e6
	cpu := l.cpu.Seconds()
	res.ServerCPUPct = 100 * cpu / l.secs
	if cpu > 0 {
		res.ServerKernelPct = 100 * l.sys.Seconds() / cpu
		res.PPSPerCore = res.ForwardedPPS / (cpu / l.secs)
	}
	if l.pkts > 0 {
		res.CPUPerPacketUs = cpu * 1e6 / float64(l.pkts)
	}
	if l.idleSecs > 0 {
		res.IdleCPUPct = 100 * l.idleCPU.Seconds() / l.idleSecs
	}
	if l.expected > 0 {
		res.WindowLossPct = 100 * float64(l.gaps) / float64(l.expected)
	}
	// The other targets' servers share the core by design: no
	// other-process figure means anything here.
	res.OtherServerCorePct, res.ServerCoreSoftIRQPct = -1, -1
	if u, err := srv.Usage(); err == nil {
		res.RSSBytes = u.RSS
		res.RSSPerViewerBytes = float64(u.RSS-l.base.RSS) / float64(res.Connected)
	}
	if g, err := srv.Metric("go_goroutines"); err == nil {
		res.Goroutines = g
		res.GoroutinesPerViewer = (g - l.baseG) / float64(res.Connected)
	}
	if !srv.InProcess {
		res.Memory = memSplit(l.mem, readMem(srv), res.Connected)
	}
	res.LatencyP50Ms = ms(st.sink.Latency.Quantile(0.5))
	res.LatencyP95Ms = ms(st.sink.Latency.Quantile(0.95))
	res.LatencyP99Ms = ms(st.sink.Latency.Quantile(0.99))
	res.Latency = &st.sink.Latency
	return res
}

// pause takes the stage's publishers off its pacer; resume puts them back,
// each starting on the pacer's next tick (Pacer.Add).
func (s *stage) pause() {
	for _, p := range s.pubs {
		s.pacer.Remove(p)
	}
}

func (s *stage) resume() {
	for _, p := range s.pubs {
		s.pacer.Add(p)
	}
}
