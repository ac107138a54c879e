package load

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The overload scenario (issue 16): how seatsfu behaves past what its core
// can send. Saturate finds the saturating viewer count of a server with no
// egress budget — viewers join in steps, each step's delivered packets and
// loss measured — and Overload then sends 1.5× that many viewers at a fresh
// server whose --egress-budget is set, and reports whether the node
// degraded as designed: the joined viewers lose ≤ 1 % after NACK repair,
// it delivers ≥ 90 % of the peak, the viewers over the budget are refused
// (overloaded), and /metrics answers within a second throughout.

// OverloadConfig sizes both phases. Config's Warmup is the settling time
// after each step's (or the overload's) joins, Duration each measuring
// window; viewers always NACK (loss is measured after repair) and
// /metrics is scraped every ProbeMetrics (250 ms when 0) from the first
// join to the end.
type OverloadConfig struct {
	Config
	// Step is the viewers added per saturation step (and the first step).
	Step int
	// MaxViewers ends the search: if it is served cleanly, it is taken as
	// the saturating count and the report says so.
	MaxViewers int
	// Factor times the saturating count is the overload's viewers (1.5).
	Factor float64
	// Refine is how many times the search halves the step between the
	// last clean and the first saturated count (2 when 0; -1: none), so
	// the clean count is within a quarter step of the saturation point.
	Refine int
	// LossLimit is the window loss after repair, in percent, above which a
	// step is saturated (1); a step is also saturated when it delivers
	// under DeliveredMin of what its viewers should get (0.95).
	LossLimit, DeliveredMin float64
	// OutsideProbe, when set, is the command of a /metrics probe process
	// (seatbench probe-metrics) run beside the generator's own probe,
	// pinned to the server's core; the /metrics bound is checked on it
	// (overload_probe.go).
	OutsideProbe []string
	// Burst makes the overload phase's viewers all join at once (every
	// join in flight together) instead of Parallel at a time: the join
	// burst issue 16 must survive.
	Burst bool
}

func (c *OverloadConfig) check() error {
	c.Viewers = max(c.Viewers, 1) // Config.check wants one; the steps decide
	c.ViewerNACK = true
	if c.ProbeMetrics <= 0 {
		c.ProbeMetrics = 250 * time.Millisecond
	}
	if c.Factor == 0 {
		c.Factor = 1.5
	}
	if c.LossLimit == 0 {
		c.LossLimit = 1
	}
	if c.Refine == 0 {
		c.Refine = 2
	}
	if c.DeliveredMin == 0 {
		c.DeliveredMin = 0.95
	}
	switch {
	case c.Step < 1:
		return errors.New("load: overload step must be at least one viewer")
	case c.MaxViewers < c.Step:
		return errors.New("load: overload max viewers must be at least one step")
	case c.Factor < 1:
		return errors.New("load: overload factor must be at least 1")
	}
	return c.Config.check()
}

// StepResult is one measured window of either phase.
type StepResult struct {
	Viewers   int `json:"viewers"`   // attempted so far
	Connected int `json:"connected"` // joined and still there
	// ExpectedPPS is what the connected viewers should get; DeliveredPPS
	// what they got.
	ExpectedPPS  float64 `json:"expectedPktPerSec"`
	DeliveredPPS float64 `json:"deliveredPktPerSec"`
	// LossPct is the window's loss after the server's repair (packets
	// still missing at the window's end), GapPct before it.
	LossPct         float64 `json:"lossAfterRepairPct"`
	GapPct          float64 `json:"lossBeforeRepairPct"`
	ServerCPUPct    float64 `json:"serverCpuPercentOfOneCore"`
	GeneratorCPUPct float64 `json:"generatorCpuPercent"`
	// OtherServerCorePct is what other processes used on the server's
	// core (-1 unknown): the noise beside the window.
	OtherServerCorePct float64 `json:"otherCpuPercentOnServerCore"`
	Seconds            float64 `json:"seconds"`
	// Drops says where the window's packets were lost.
	Drops Drops `json:"drops"`
	// Receivers is how the window's packets were spread over the viewers.
	Receivers Receivers `json:"receivers"`
}

// GoodPPS is what the viewers were due and got: ExpectedPPS less the loss
// after repair. Unlike DeliveredPPS it does not grow with the keyframes a
// lossy step makes its publishers send (a step losing 14.6 % delivered
// 74 004 pkt/s of an expected 65 700) nor with retransmissions.
func (r StepResult) GoodPPS() float64 {
	// At most what arrived: the loss is counted on the packets a viewer
	// saw numbered, and a viewer cut off for a whole window sees none.
	return min(r.ExpectedPPS*(1-r.LossPct/100), r.DeliveredPPS)
}

// Saturation is the search's outcome.
type Saturation struct {
	Steps []StepResult `json:"steps"`
	// Viewers is the saturating count: the most viewers of a clean step.
	Viewers int `json:"saturatingViewers"`
	// PeakPPS is the most any step delivered; CleanPPS what the
	// saturating step delivered, CleanGoodPPS its goodput
	// (StepResult.GoodPPS).
	PeakPPS      float64 `json:"peakPktPerSec"`
	CleanPPS     float64 `json:"cleanPktPerSec"`
	CleanGoodPPS float64 `json:"cleanGoodPktPerSec"`
	// PeakGoodPPS is the most goodput (StepResult.GoodPPS) of any step.
	PeakGoodPPS float64 `json:"peakGoodPktPerSec"`
	// Saturated is false when even MaxViewers was served cleanly (the
	// count is then a floor, not the saturation point).
	Saturated bool `json:"saturated"`
	// Given: the count and peak were given, not searched (-saturating).
	Given bool `json:"given,omitempty"`
}

// OverloadResult is the overload phase's outcome and its verdicts.
type OverloadResult struct {
	Budget    int `json:"egressBudget"`
	Attempted int `json:"viewersAttempted"`
	Joined    int `json:"viewersJoined"`
	Refused   int `json:"viewersRefusedOverloaded"`
	// Failed are joins that failed otherwise (Errors holds the first few).
	Failed int        `json:"viewersFailedOtherwise"`
	Window StepResult `json:"window"`
	// JoinSeconds is how long the joins took; WindowEnd when the
	// measuring window ended, seconds from the joins' start (it began
	// Window.Seconds before).
	JoinSeconds float64 `json:"joinSeconds"`
	WindowEnd   float64 `json:"windowEnd"`
	// QueueDropsBySecond is the server's drops for full viewer queues in
	// each second from the joins' start, read by the /metrics probe: a
	// window's drops at its start are the joins' backlog, spread through
	// it a steady shortfall.
	QueueDropsBySecond []float64 `json:"queueDropsBySecond,omitempty"`
	// ServerCoreBySecond is the server's core in the same seconds
	// (overload_core.go): what its process, softirq and steal took.
	ServerCoreBySecond []CoreSecond `json:"serverCoreBySecond,omitempty"`
	// Burst: the viewers joined all at once.
	Burst bool `json:"burst"`
	// PhaseDrops is where packets were lost over the whole phase, the
	// joins and settling included (Window.Drops is the window's share).
	PhaseDrops Drops `json:"phaseDrops"`
	// PriceBefore and PriceAfter are the server's admission price for a
	// viewer (seatsfu_egress_viewer_price_packets_per_second) before the
	// joins and at the end, pkt/s.
	PriceBefore float64 `json:"viewerPriceBefore"`
	PriceAfter  float64 `json:"viewerPriceAfter"`
	// CeilingAfter is the server's learned egress ceiling at the end
	// (seatsfu_egress_ceiling_packets_per_second, 0: none), pkt/s;
	// CeilingBySecond the same in each second from the joins' start (-1
	// before the first scrape): when it bound admission.
	CeilingAfter    float64   `json:"egressCeilingAfter"`
	CeilingBySecond []float64 `json:"egressCeilingBySecond,omitempty"`
	// DeliveredOfPeakPct is the window's delivered pkt/s over the
	// saturation search's peak.
	DeliveredOfPeakPct float64 `json:"deliveredOfPeakPct"`
	// GoodOfPeakPct is the window's goodput over the search's peak
	// goodput: what the ≥ 90 % bound is checked on.
	GoodOfPeakPct float64 `json:"goodputOfPeakPct"`
	// /metrics through the joins and the window.
	MetricsScrapes  int     `json:"metricsScrapes"`
	MetricsFailures int     `json:"metricsFailures"`
	MetricsP95Ms    float64 `json:"metricsP95Ms"`
	MetricsMaxMs    float64 `json:"metricsMaxMs"`
	// The same from a probe process of its own on the server's core
	// (overload_probe.go): what the bound is checked on when it ran.
	OutsideScrapes  int     `json:"outsideMetricsScrapes"`
	OutsideFailures int     `json:"outsideMetricsFailures"`
	OutsideP95Ms    float64 `json:"outsideMetricsP95Ms"`
	OutsideMaxMs    float64 `json:"outsideMetricsMaxMs"`
	// Shed is seatsfu_shed_total{what} over the phase; EgressGauge the
	// server's own seatsfu_egress_packets_per_second at the end.
	Shed        map[string]float64 `json:"shed"`
	EgressGauge float64            `json:"egressPktPerSecGauge"`
	Errors      []string           `json:"errors,omitempty"`
	// Verdicts against issue 16's bounds, each with its figure.
	Checks []Check `json:"checks"`
}

// Check is one bound and whether the run met it.
type Check struct {
	What string `json:"what"`
	Got  string `json:"got"`
	OK   bool   `json:"ok"`
}

// publishersSeen is how long the overload phase's publishers run before
// its viewers join: two of the node's one-second egress samples, so one
// covers a whole second of them.
const publishersSeen = 2500 * time.Millisecond

const viewerPrice = "seatsfu_egress_viewer_price_packets_per_second"

// egressCeiling is the server's learned egress ceiling (0: none).
const egressCeiling = "seatsfu_egress_ceiling_packets_per_second"

// overloadRun is one phase's cast and measurements.
type overloadRun struct {
	t    Target
	cfg  *OverloadConfig
	st   *stage
	srv  Server
	bar  *bar
	refd int
	fail int
	errs []string
	next int // the next viewer's number
}

func newOverloadRun(ctx context.Context, t Target, cfg *OverloadConfig, name string) (*overloadRun, error) {
	st, err := newStage(true)
	if err != nil {
		return nil, err
	}
	o := &overloadRun{t: t, cfg: cfg, st: st, srv: t.Server()}
	o.bar = newBar(cfg.Progress, fmt.Sprintf("%s %s", name, o.srv.Name))
	for seat := 0; seat < cfg.Guests+1; seat++ {
		if _, err := st.publish(ctx, seat, 0, func(ctx context.Context, offer string) (string, error) {
			return t.Publish(ctx, seat, offer)
		}); err != nil {
			st.close()
			return nil, err
		}
	}
	return o, nil
}

func (o *overloadRun) close() {
	o.bar.done()
	o.st.close()
}

// join connects viewers first..first+n-1, counting refusals apart.
func (o *overloadRun) join(ctx context.Context, first, n int) {
	sem := make(chan struct{}, o.cfg.Parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	o.next = max(o.next, first+n)
	for i := first; i < first+n && ctx.Err() == nil; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			v, err := o.t.AddViewer(ctx, o.st.api, o.st.sink, i, o.cfg.Guests+1)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				o.st.mu.Lock()
				o.st.views = append(o.st.views, v)
				o.st.mu.Unlock()
			case strings.Contains(err.Error(), "overloaded"):
				o.refd++
			default:
				o.fail++
				if len(o.errs) < 10 {
					o.errs = append(o.errs, err.Error())
				}
			}
			o.bar.show(float64(i-first+1)/float64(n), fmt.Sprintf("joining %d/%d (refused %d)", i-first+1, n, o.refd))
		}()
	}
	wg.Wait()
}

// resize closes the newest viewers, or joins more, until n are connected.
func (o *overloadRun) resize(ctx context.Context, n int) {
	o.st.mu.Lock()
	have := len(o.st.views)
	var gone []Viewer
	if have > n {
		gone = append(gone, o.st.views[n:]...)
		o.st.views = o.st.views[:n]
	}
	o.st.mu.Unlock()
	for _, v := range gone {
		_ = v.Close()
	}
	if have < n {
		o.join(ctx, o.next, n-have)
	}
}

// lossTally is the viewers' source-index totals at one moment.
type lossTally struct{ expected, gaps, unrecovered uint64 }

func (o *overloadRun) tally() lossTally {
	o.st.mu.Lock()
	views := append([]Viewer(nil), o.st.views...)
	o.st.mu.Unlock()
	var t lossTally
	for _, v := range views {
		for _, tr := range v.Report() {
			t.expected += tr.Expected
			t.gaps += tr.Source.Gaps
			t.unrecovered += tr.Unrecovered
		}
	}
	return t
}

// measure settles for Warmup, then measures one window of Duration.
func (o *overloadRun) measure(ctx context.Context, attempted int) (StepResult, error) {
	if err := sleepBar(ctx, o.bar, o.cfg.Warmup, "settling", o.st.sink); err != nil {
		return StepResult{}, err
	}
	u0, err := o.srv.Usage()
	if err != nil {
		return StepResult{}, err
	}
	n0 := markNoise(o.srv, u0.CPU)
	d0 := markDrops(o.srv)
	o.st.mu.Lock()
	rm := markReceivers(append([]Viewer(nil), o.st.views...))
	o.st.mu.Unlock()
	l0, p0, t0 := o.tally(), o.st.sink.Packets.Load(), time.Now()
	if err := sleepBar(ctx, o.bar, o.cfg.Duration, fmt.Sprintf("V=%d measuring", attempted), o.st.sink); err != nil {
		return StepResult{}, err
	}
	u1, err := o.srv.Usage()
	if err != nil {
		return StepResult{}, err
	}
	n1 := markNoise(o.srv, u1.CPU)
	d1 := markDrops(o.srv)
	l1, p1, t1 := o.tally(), o.st.sink.Packets.Load(), time.Now()
	secs := t1.Sub(t0).Seconds()
	var noise Result
	noise.noise(o.srv, n0, n1, secs)
	o.st.mu.Lock()
	connected := len(o.st.views)
	o.st.mu.Unlock()
	r := StepResult{
		Viewers: attempted, Connected: connected, Seconds: secs,
		ExpectedPPS:     o.st.publishedPPS() * float64(connected),
		DeliveredPPS:    float64(p1-p0) / secs,
		ServerCPUPct:    100 * (u1.CPU - u0.CPU).Seconds() / secs,
		GeneratorCPUPct: noise.GeneratorCPUPct, OtherServerCorePct: noise.OtherServerCorePct,
		Drops: dropsSince(d0, d1),
	}
	r.Receivers = rm.spread(o.st.publishedPPS() * secs)
	if e := l1.expected - l0.expected; e > 0 {
		r.GapPct = 100 * float64(l1.gaps-l0.gaps) / float64(e)
		// Unrecovered can shrink (a late repair): clamp at zero.
		r.LossPct = max(0, 100*(float64(l1.unrecovered)-float64(l0.unrecovered))/float64(e))
	}
	return r, nil
}

// clean says whether a step served its viewers within the bounds.
func (c *OverloadConfig) clean(r StepResult) bool {
	return r.LossPct <= c.LossLimit && r.DeliveredPPS >= c.DeliveredMin*r.ExpectedPPS
}

// Saturate adds viewers to t (a server with no egress budget) Step at a
// time, measuring each step, until a step is not clean or MaxViewers.
func Saturate(ctx context.Context, t Target, cfg OverloadConfig) (*Saturation, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	o, err := newOverloadRun(ctx, t, &cfg, "saturation")
	if err != nil {
		return nil, err
	}
	defer o.close()
	sat := &Saturation{}
	for n := 0; n < cfg.MaxViewers; {
		add := min(cfg.Step, cfg.MaxViewers-n)
		o.join(ctx, n, add)
		n += add
		if o.fail > 0 && len(o.st.views) == 0 {
			return nil, fmt.Errorf("load: no viewer joined %s: %v", o.srv.Name, o.errs)
		}
		r, err := o.measure(ctx, n)
		if err != nil {
			return nil, err
		}
		sat.Steps = append(sat.Steps, r)
		sat.PeakPPS = max(sat.PeakPPS, r.DeliveredPPS)
		sat.PeakGoodPPS = max(sat.PeakGoodPPS, r.GoodPPS())
		if !cfg.clean(r) {
			sat.Saturated = true
			break
		}
		sat.Viewers, sat.CleanPPS, sat.CleanGoodPPS = r.Connected, r.DeliveredPPS, r.GoodPPS()
	}
	// Halve the last step: drop or add viewers to the middle count.
	for lo, hi, i := sat.Viewers, len(o.st.views), 0; sat.Saturated && i < cfg.Refine && hi-lo >= 4; i++ {
		mid := (lo + hi) / 2
		o.resize(ctx, mid)
		r, err := o.measure(ctx, mid)
		if err != nil {
			return nil, err
		}
		sat.Steps = append(sat.Steps, r)
		sat.PeakPPS = max(sat.PeakPPS, r.DeliveredPPS)
		sat.PeakGoodPPS = max(sat.PeakGoodPPS, r.GoodPPS())
		if cfg.clean(r) {
			lo, sat.Viewers, sat.CleanPPS, sat.CleanGoodPPS = mid, r.Connected, r.DeliveredPPS, r.GoodPPS()
		} else {
			hi = mid
		}
	}
	if sat.Viewers == 0 {
		return sat, fmt.Errorf("load: %s was saturated at the first step (%d viewers): use a smaller -step", o.srv.Name, cfg.Step)
	}
	return sat, nil
}

// Overload sends Factor × sat.Viewers viewers at t, a fresh server whose
// egress budget is budget, and measures what the joined ones get.
func Overload(ctx context.Context, t Target, cfg OverloadConfig, sat *Saturation, budget int) (*OverloadResult, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if sat == nil || sat.Viewers < 1 {
		return nil, errors.New("load: overload needs a saturation point")
	}
	o, err := newOverloadRun(ctx, t, &cfg, "overload")
	if err != nil {
		return nil, err
	}
	defer o.close()
	res := &OverloadResult{Budget: budget, Attempted: int(float64(sat.Viewers)*cfg.Factor + 0.5)}
	// The node measures its ingress once a second, and prices a viewer by
	// it until one is connected: let it see the publishers for two whole
	// seconds first, as a node would before its audience arrives.
	if err := sleepBar(ctx, o.bar, max(cfg.Warmup, publishersSeen), "publishers only", o.st.sink); err != nil {
		return nil, err
	}
	shed0, _ := scrapeLabels(o.srv.BaseURL, "seatsfu_shed_total", "what")
	probe := startProbe(o.srv.BaseURL+"/metrics", cfg.ProbeMetrics, droppedPackets, egressCeiling)
	core := -1
	if o.srv.CorePinned {
		core = o.srv.Core
	}
	outside, err := startOutsideProbe(cfg.OutsideProbe, o.srv.BaseURL+"/metrics", cfg.ProbeMetrics, core)
	if err != nil {
		probe.stop(&Result{})
		return nil, err
	}
	dj := markDrops(o.srv)
	res.PriceBefore, _ = o.srv.Metric(viewerPrice)
	j0 := time.Now()
	timeline := startCoreTimeline(o.srv.PID, core)
	if cfg.Burst {
		cfg.Parallel = res.Attempted // o.cfg is &cfg
		res.Burst = true
	}
	o.join(ctx, 0, res.Attempted)
	res.JoinSeconds = time.Since(j0).Seconds()
	res.Window, err = o.measure(ctx, res.Attempted)
	res.WindowEnd = time.Since(j0).Seconds()
	res.PhaseDrops = dropsSince(dj, markDrops(o.srv))
	var pr Result
	probe.stop(&pr)
	res.QueueDropsBySecond = probe.perSecond(j0)
	res.CeilingBySecond = probe.gaugeBySecond(j0)
	res.ServerCoreBySecond = timeline.end()
	outside.stop(res)
	if err != nil {
		return nil, err
	}
	res.Joined, res.Refused, res.Failed, res.Errors = res.Window.Connected, o.refd, o.fail, o.errs
	res.MetricsScrapes, res.MetricsFailures, res.MetricsP95Ms, res.MetricsMaxMs = pr.MetricsScrapes, pr.MetricsFailures, pr.MetricsP95Ms, pr.MetricsMaxMs
	shed1, _ := scrapeLabels(o.srv.BaseURL, "seatsfu_shed_total", "what")
	res.Shed = map[string]float64{}
	for k, v := range shed1 {
		res.Shed[k] = v - shed0[k]
	}
	res.EgressGauge, _ = o.srv.Metric("seatsfu_egress_packets_per_second")
	res.PriceAfter, _ = o.srv.Metric(viewerPrice)
	res.CeilingAfter, _ = o.srv.Metric(egressCeiling)
	if sat.PeakPPS > 0 {
		res.DeliveredOfPeakPct = 100 * res.Window.DeliveredPPS / sat.PeakPPS
	}
	peakGood := sat.PeakGoodPPS
	if peakGood == 0 { // given with -saturating: the peak given
		peakGood = sat.PeakPPS
	}
	if peakGood > 0 {
		res.GoodOfPeakPct = 100 * res.Window.GoodPPS() / peakGood
	}
	res.Checks = []Check{
		{"joined viewers' loss after NACK repair ≤ 1 %", fmt.Sprintf("%.3f %% (before repair %.3f %%)", res.Window.LossPct, res.Window.GapPct), res.Window.LossPct <= 1},
		{"delivered pkt/s ≥ 90 % of the peak (goodput: due and received)", fmt.Sprintf("goodput %.0f of the peak %.0f = %.1f %% (raw delivered %.0f of the raw peak %.0f = %.1f %%)", res.Window.GoodPPS(), peakGood, res.GoodOfPeakPct, res.Window.DeliveredPPS, sat.PeakPPS, res.DeliveredOfPeakPct), res.GoodOfPeakPct >= 90},
		{"viewers over the budget refused (overloaded)", fmt.Sprintf("%d of %d refused, %d joined, %d failed otherwise", res.Refused, res.Attempted, res.Joined, res.Failed), res.Refused > 0 && res.Failed == 0},
		metricsCheck(res),
	}
	return res, nil
}

// scrapeLabels reads one labelled family from base's /metrics, by the
// value of label.
func scrapeLabels(base, family, label string) (map[string]float64, error) {
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	prefix := family + "{"
	key := label + `="`
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		i := strings.Index(line, key)
		end := strings.LastIndexByte(line, '}')
		if i < 0 || end < i {
			continue
		}
		name := line[i+len(key):]
		name = name[:max(strings.IndexByte(name, '"'), 0)]
		f := strings.Fields(line[end+1:])
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			out[name] += v
		}
	}
	return out, sc.Err()
}

// metricsCheck is the /metrics bound: on the outside probe when it ran
// (the generator's own probe times the generator's starvation too:
// overload_probe.go), with the generator's figure beside it.
func metricsCheck(res *OverloadResult) Check {
	gen := fmt.Sprintf("%d scrapes, %d failed, p95 %.0f ms, max %.0f ms", res.MetricsScrapes, res.MetricsFailures, res.MetricsP95Ms, res.MetricsMaxMs)
	if res.OutsideScrapes == 0 {
		return Check{"/metrics answers within 1 s throughout", gen, res.MetricsScrapes > 0 && res.MetricsFailures == 0 && res.MetricsMaxMs <= 1000}
	}
	return Check{"/metrics answers within 1 s throughout (probe process on the server's core)",
		fmt.Sprintf("%d scrapes, %d failed, p95 %.0f ms, max %.0f ms (from the generator's process: %s)", res.OutsideScrapes, res.OutsideFailures, res.OutsideP95Ms, res.OutsideMaxMs, gen),
		res.OutsideFailures == 0 && res.OutsideMaxMs <= 1000}
}
