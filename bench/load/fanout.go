package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/bench/peer"
	"github.com/seatsfu/seatsfu/bench/proc"
	"github.com/seatsfu/seatsfu/bench/synth"
)

// Config sizes one run.
type Config struct {
	Viewers  int
	Guests   int // co-guests besides the host (0..9)
	Warmup   time.Duration
	Duration time.Duration
	// Parallel bounds concurrent viewer connects.
	Parallel int
	// Progress receives a one-line progress bar (stderr); nil for none.
	Progress io.Writer
	// ViewerNACK makes viewers NACK lost packets (peer.NewNACKingAPI),
	// so loss is measured after the server's repair; by default they
	// send no RTCP at all (peer.NewAPI).
	ViewerNACK bool
	// ProbeMetrics scrapes the server's /metrics this often through the
	// measuring window and reports the answer times (0: no probe; each
	// scrape costs the server a little CPU).
	ProbeMetrics time.Duration
}

func (c *Config) check() error {
	switch {
	case c.Viewers < 1:
		return errors.New("load: at least one viewer")
	case c.Guests < 0 || c.Guests > 9:
		return fmt.Errorf("load: guests must be 0..9, got %d", c.Guests)
	case c.Duration <= 0:
		return errors.New("load: duration must be positive")
	}
	if c.Parallel <= 0 {
		c.Parallel = 8
	}
	return nil
}

// Host and guest stream ids: video 2k+1, audio 2k+2 for seat k.
func seatSpecs(seat int) (synth.Spec, synth.Spec) {
	v := synth.GuestVideo(uint32(2*seat + 1))
	if seat == 0 {
		v = synth.HostVideo(1)
	}
	return v, synth.Voice(uint32(2*seat + 2))
}

// stage is a run's cast: publishers paced by one pacer, viewers on a sink.
type stage struct {
	api    *webrtc.API // viewers: no interceptors, or a NACK generator only
	pubAPI *webrtc.API // publishers: NACK responder + sender reports
	pacer  *peer.Pacer
	sink   *peer.Sink
	pubs   []*peer.Publisher
	mu     sync.Mutex
	views  []Viewer
	errors []string
	phases []viewerPhases // of the viewers close returned reports for, in order
}

// begin starts a scenario run: it checks cfg, describes the result to fill
// and builds the stage its peers run on. cfg is checked in place: check
// fills its defaults.
func begin(scenario string, t Target, cfg *Config) (Server, *Result, *stage, error) {
	if err := cfg.check(); err != nil {
		return Server{}, nil, nil, err
	}
	srv := t.Server()
	res := &Result{Scenario: scenario, Target: srv.Name, Viewers: cfg.Viewers, Guests: cfg.Guests, Pinned: srv.Pinned, InProcess: srv.InProcess, ViewerNACK: cfg.ViewerNACK}
	st, err := newStage(cfg.ViewerNACK)
	if err != nil {
		return Server{}, nil, nil, err
	}
	return srv, res, st, nil
}

func newStage(viewerNACK bool) (*stage, error) {
	newAPI := peer.NewAPI
	if viewerNACK {
		newAPI = peer.NewNACKingAPI
	}
	api, err := newAPI()
	if err != nil {
		return nil, err
	}
	pubAPI, err := peer.NewPublisherAPI()
	if err != nil {
		return nil, err
	}
	return &stage{api: api, pubAPI: pubAPI, pacer: peer.NewPacer(), sink: &peer.Sink{}}, nil
}

// publish connects a publisher for seat through publishFn and starts pacing it.
func (s *stage) publish(ctx context.Context, seat int, specID uint32, publishFn func(ctx context.Context, offer string) (string, error)) (*peer.Publisher, error) {
	v, a := seatSpecs(seat)
	if specID != 0 { // a replacement guest gets fresh stream ids
		v.StreamID, a.StreamID = specID, specID+1
	}
	pub, offer, err := peer.NewPublisher(s.pubAPI, v, a)
	if err != nil {
		return nil, err
	}
	answer, err := publishFn(ctx, offer)
	if err == nil {
		err = pub.Accept(answer)
	}
	if err == nil {
		err = pub.WaitConnected(10 * time.Second)
	}
	if err != nil {
		_ = pub.Close()
		return nil, fmt.Errorf("load: publisher for seat %d: %w", seat, err)
	}
	s.pacer.Add(pub)
	s.pubs = append(s.pubs, pub)
	return pub, nil
}

// connectViewers connects n viewers (ids from first) with bounded parallelism.
func (s *stage) connectViewers(ctx context.Context, t Target, first, n, seats, parallel int, progress func()) {
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := first; i < first+n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			v, err := t.AddViewer(ctx, s.api, s.sink, i, seats)
			s.mu.Lock()
			defer s.mu.Unlock()
			if err != nil {
				if len(s.errors) < 10 {
					s.errors = append(s.errors, err.Error())
				}
				return
			}
			s.views = append(s.views, v)
			if progress != nil {
				progress()
			}
		}()
	}
	wg.Wait()
}

// close stops pacing and closes everyone, returning the viewers' reports.
func (s *stage) close() ([][]peer.TrackReport, []int64) {
	s.pacer.Stop()
	s.mu.Lock()
	views := s.views
	s.views = nil
	s.mu.Unlock()
	reports := make([][]peer.TrackReport, len(views))
	subscribed := make([]int64, len(views))
	s.phases = make([]viewerPhases, len(views))
	for i, v := range views {
		reports[i] = v.Report()
		subscribed[i] = v.SubscribedNs()
		s.phases[i] = phasesOf(v)
	}
	var wg sync.WaitGroup
	for _, v := range views {
		wg.Add(1)
		go func() { defer wg.Done(); _ = v.Close() }()
	}
	wg.Wait()
	for _, p := range s.pubs {
		_ = p.Close()
	}
	return reports, subscribed
}

// sourceTally is the viewers' source-index totals at one moment.
type sourceTally struct{ expected, gaps uint64 }

func (s *stage) tally() sourceTally {
	s.mu.Lock()
	views := append([]Viewer(nil), s.views...)
	s.mu.Unlock()
	var t sourceTally
	for _, v := range views {
		for _, tr := range v.Report() {
			t.expected += tr.Expected
			t.gaps += tr.Source.Gaps
		}
	}
	return t
}

func (s *stage) forcedKeyframes() uint64 {
	var n uint64
	for _, p := range s.pubs {
		n += p.ForcedKeyframes()
	}
	return n
}

func (s *stage) publishedPPS() float64 {
	var pps float64
	for _, p := range s.pubs {
		pps += p.PacketsPerSecond()
	}
	return pps
}

// Fanout runs the fan-out scenario: the host (1.5 Mbit/s VP8 + Opus) and
// cfg.Guests guests (300 kbit/s + Opus) publish; cfg.Viewers viewers
// subscribe to every seat; after the warm-up, the server's CPU, memory and
// the viewers' packets are measured over cfg.Duration.
func Fanout(ctx context.Context, t Target, cfg Config) (*Result, error) {
	srv, res, st, err := begin("fanout", t, &cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		reports, subscribed := st.close()
		if res.Latency == nil { // failed before measuring
			return
		}
		res.tallyViewers(reports, subscribed)
		res.tallyPhases(reports, subscribed, st.phases)
	}()
	seats := cfg.Guests + 1
	for seat := 0; seat < seats; seat++ {
		if _, err := st.publish(ctx, seat, 0, func(ctx context.Context, offer string) (string, error) {
			return t.Publish(ctx, seat, offer)
		}); err != nil {
			return nil, err
		}
	}
	base, _ := srv.Usage()
	baseG, _ := srv.Metric("go_goroutines")
	baseMem := readMem(srv)
	joinDrops0, _ := proc.UDPRcvbufErrors()
	portDrops := func() uint64 {
		if srv.UDPPort == 0 {
			return 0
		}
		n, _ := proc.UDPPortDrops(srv.UDPPort)
		return n
	}
	sd0 := portDrops()

	bar := newBar(cfg.Progress, fmt.Sprintf("%s %s V=%d", res.Scenario, srv.Name, cfg.Viewers))
	if err := st.joinAudience(ctx, t, srv, res, &cfg, seats, bar); err != nil {
		return nil, err
	}

	st.sink.Measuring.Store(true)
	c0, _ := snapshotCounters(srv.BaseURL) // before the CPU window opens: the scrape is not in it
	speed0 := srv.speedProbe()
	srv.cutProfile() // the window's own profile segment (internal/cpuprofile)
	u0, err := srv.Usage()
	if err != nil {
		return nil, err
	}
	n0 := markNoise(srv, u0.CPU)
	k0, _ := proc.SoftnetDrops()
	r0, _ := proc.UDPRcvbufErrors()
	res.JoinSocketDrops = r0 - joinDrops0
	w0 := st.tally()
	q0, qErr := srv.Metric("seatsfu_dropped_packets_total")
	p0, b0, t0 := st.sink.Packets.Load(), st.sink.Bytes.Load(), time.Now()
	f0 := st.forcedKeyframes()
	probe := startProbe(srv.BaseURL+"/metrics", cfg.ProbeMetrics, "", "")
	err = sleepBar(ctx, bar, cfg.Duration, "measuring", st.sink)
	probe.stop(res)
	if err != nil {
		return nil, err
	}
	u1, err := srv.Usage()
	if err != nil {
		return nil, err
	}
	n1 := markNoise(srv, u1.CPU)
	srv.cutProfile()
	res.SpeedProbeUs = meanSpeed(speed0, srv.speedProbe())
	if c1, err := snapshotCounters(srv.BaseURL); err == nil && c0 != nil {
		res.Window = serverWindow(c0, c1)
	}
	k1, _ := proc.SoftnetDrops()
	r1, _ := proc.UDPRcvbufErrors()
	w1 := st.tally()
	res.SocketDrops = r1 - r0
	res.ServerSocketDrops = portDrops() - sd0
	if e := w1.expected - w0.expected; e > 0 {
		res.WindowLossPct = 100 * float64(w1.gaps-w0.gaps) / float64(e)
	}
	if q1, err := srv.Metric("seatsfu_dropped_packets_total"); err == nil && qErr == nil {
		res.ServerDrops = q1 - q0
	}
	res.KernelDrops = k1 - k0
	p1, b1, t1 := st.sink.Packets.Load(), st.sink.Bytes.Load(), time.Now()
	res.ForcedKeyframesPerSec = float64(st.forcedKeyframes()-f0) / t1.Sub(t0).Seconds()
	st.sink.Measuring.Store(false)
	bar.done()

	g1, gErr := srv.Metric("go_goroutines")
	if !srv.InProcess { // in-process, the runtime's figures include the generator's
		res.Memory = memSplit(baseMem, readMem(srv), res.Connected)
	}
	secs := t1.Sub(t0).Seconds()
	res.Seconds = secs
	res.ExpectedPPS = st.publishedPPS() * float64(res.Connected)
	res.ForwardedPPS = float64(p1-p0) / secs
	res.ForwardedMbps = float64(b1-b0) * 8 / secs / 1e6
	cpu := (u1.CPU - u0.CPU).Seconds()
	res.ServerCPUPct = 100 * cpu / secs
	if cpu > 0 {
		res.ServerKernelPct = 100 * (u1.System - u0.System).Seconds() / cpu
	}
	res.noise(srv, n0, n1, secs)
	if p1 > p0 {
		res.CPUPerPacketUs = cpu * 1e6 / float64(p1-p0)
	}
	if cpu > 0 {
		res.PPSPerCore = res.ForwardedPPS / (cpu / secs)
	}
	res.RSSBytes = u1.RSS
	res.RSSPerViewerBytes = float64(u1.RSS-base.RSS) / float64(res.Connected)
	if gErr == nil {
		res.Goroutines = g1
		res.GoroutinesPerViewer = (g1 - baseG) / float64(res.Connected)
	}
	res.LatencyP50Ms = ms(st.sink.Latency.Quantile(0.5))
	res.LatencyP95Ms = ms(st.sink.Latency.Quantile(0.95))
	res.LatencyP99Ms = ms(st.sink.Latency.Quantile(0.99))
	res.Latency = &st.sink.Latency
	return res, nil
}

// joinAudience connects cfg.Viewers viewers, warms up and waits for the
// joins' keyframe replays, showing it on bar; res gets the viewers
// connected, their errors and the wait.
func (st *stage) joinAudience(ctx context.Context, t Target, srv Server, res *Result, cfg *Config, seats int, bar *bar) error {
	connected := 0
	st.connectViewers(ctx, t, 0, cfg.Viewers, seats, cfg.Parallel, func() {
		connected++
		bar.show(float64(connected)/float64(cfg.Viewers), fmt.Sprintf("connecting %d/%d", connected, cfg.Viewers))
	})
	res.Connected = len(st.views)
	res.Errors = append(res.Errors, st.errors...)
	if res.Connected == 0 {
		bar.done()
		return fmt.Errorf("load: no viewer connected to %s: %v", srv.Name, st.errors)
	}
	if err := sleepBar(ctx, bar, cfg.Warmup, "warm-up", st.sink); err != nil {
		return err
	}
	waited, err := awaitJoinsDone(ctx, srv, maxJoinWait)
	if err != nil {
		return err
	}
	res.JoinWaitMs = ms(waited)
	return nil
}

// sleepBar waits d, updating the bar every half second.
func sleepBar(ctx context.Context, bar *bar, d time.Duration, phase string, sink *peer.Sink) error {
	start := time.Now()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	last, lastT := sink.Packets.Load(), start
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			bar.done()
			return ctx.Err()
		case <-timer.C:
			return nil
		case now := <-tick.C:
			p := sink.Packets.Load()
			rate := float64(p-last) / now.Sub(lastT).Seconds()
			last, lastT = p, now
			bar.show(float64(now.Sub(start))/float64(d), fmt.Sprintf("%s %4.0fs/%.0fs %7.0f pkt/s", phase, now.Sub(start).Seconds(), d.Seconds(), rate))
		}
	}
}
