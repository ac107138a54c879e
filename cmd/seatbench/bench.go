package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/seatsfu/seatsfu/bench/load"
	"github.com/seatsfu/seatsfu/bench/proc"
	"github.com/seatsfu/seatsfu/bench/report"
	"github.com/seatsfu/seatsfu/internal/cpuprofile"
)

type options struct {
	viewers, guests, joinViewers, rounds int
	steps                                []int
	duration, warmup, every, probe       time.Duration
	alternate                            time.Duration // fan-out in alternating slices of this length (0: off)
	slices                               int
	out, seatsfuBin                      string
	seatsfuB                             string // the seatsfu-b target's binary: another build, to compare
	livekitBin, lkbenchBin               string
	targets                              []string
	pin, progress, viewerNACK            bool
	profileWindow                        bool
	repeat                               int
}

func parseFlags(cmd string, args []string) (*options, error) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	o := &options{}
	fs.IntVar(&o.viewers, "viewers", 50, "viewers (fanout, handover)")
	fs.IntVar(&o.guests, "guests", 2, "co-guests besides the host (0..9)")
	fs.IntVar(&o.joinViewers, "join-viewers", 50, "viewers in the join burst (join, all)")
	fs.IntVar(&o.rounds, "rounds", 5, "seat handovers (handover, all)")
	fs.DurationVar(&o.every, "every", 2*time.Second, "time between handovers")
	steps := fs.String("steps", "", "comma-separated viewer counts to step through (fanout, all); default -viewers")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "measuring window per step")
	fs.DurationVar(&o.warmup, "warmup", 3*time.Second, "warm-up before measuring")
	fs.StringVar(&o.out, "out", "bench/out", "output directory")
	fs.StringVar(&o.seatsfuBin, "seatsfu", "", "seatsfu binary (default: go build ./cmd/seatsfu)")
	fs.StringVar(&o.seatsfuB, "seatsfu-b", "", "another seatsfu build, the seatsfu-b target: an A/B of two builds, best with -alternate")
	fs.StringVar(&o.livekitBin, "livekit-bin", "", "LiveKit server binary for the livekit target (without it the target is skipped)")
	fs.StringVar(&o.lkbenchBin, "lkbench", "", "lkbench binary driving the livekit target (default: go build ./bench/livekit/cmd/lkbench)")
	targets := fs.String("targets", "seatsfu,raw,raw-batched,naive,livekit", "servers to measure (seatsfu-pion, the same build with --viewer-transport pion, is measured only when named)")
	fs.BoolVar(&o.pin, "pin", true, "pin the server and the generator to separate cores")
	fs.BoolVar(&o.progress, "progress", true, "progress bar on stderr")
	fs.DurationVar(&o.probe, "probe-metrics", 0, "scrape each server's /metrics this often through the window and report the answer times (0: off)")
	fs.BoolVar(&o.viewerNACK, "viewer-nack", false, "viewers NACK lost packets (and send no other RTCP), so loss is measured after repair")
	fs.BoolVar(&o.profileWindow, "profile-window", false, "with SEATSFU_CPUPROFILE set, cut each server's CPU profile at the measuring window's edges (SIGUSR1), so cpu-<pid>.1.pprof is the window alone; the servers must be built with internal/cpuprofile's cuts")
	fs.DurationVar(&o.alternate, "alternate", 0, "fanout: set every target of a step up at once and measure them in turns, slices this long, the order reversed each round (the machine's drift falls on all alike; livekit still runs on its own); 0: one window per target")
	fs.IntVar(&o.slices, "slices", 6, "with -alternate: slices per target")
	fs.IntVar(&o.repeat, "repeat", 1, "run the whole plan this many times; every ratio is reported per repeat with its spread")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.steps = []int{o.viewers}
	if *steps != "" {
		o.steps = nil
		for _, s := range strings.Split(*steps, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 1 {
				return nil, fmt.Errorf("-steps: %q is not a positive count", s)
			}
			o.steps = append(o.steps, n)
		}
	}
	for _, t := range strings.Split(*targets, ",") {
		switch t = strings.TrimSpace(t); t {
		case "seatsfu", "seatsfu-pion", "raw", "raw-batched", "naive", "livekit":
			o.targets = append(o.targets, t)
		case "seatsfu-b":
			if o.seatsfuB == "" {
				return nil, fmt.Errorf("-targets: seatsfu-b needs -seatsfu-b")
			}
			o.targets = append(o.targets, t)
		default:
			return nil, fmt.Errorf("-targets: unknown %q", t)
		}
	}
	if o.repeat < 1 {
		return nil, fmt.Errorf("-repeat must be at least 1")
	}
	if o.alternate < 0 || (o.alternate > 0 && o.slices < 1) {
		return nil, fmt.Errorf("-alternate must not be negative, and -slices must be at least 1")
	}
	if o.guests < 0 || o.guests > 9 {
		return nil, fmt.Errorf("-guests must be 0..9")
	}
	return o, nil
}

// bench is one seatbench invocation.
type bench struct {
	o         *options
	serverCPU int
	log       io.Writer
	logPath   string // servers.log, which lkbench appends to
	progress  io.Writer
	run       *report.Run
	extra     []string // more seatsfu serve flags (overload.go's --egress-budget)
}

func runBench(ctx context.Context, cmd string, args []string) error {
	o, err := parseFlags(cmd, args)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	logPath, err := filepath.Abs(filepath.Join(o.out, "servers.log"))
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	b := &bench{o: o, serverCPU: -1, log: logf, logPath: logPath, run: &report.Run{
		Command: "seatbench " + cmd + " " + strings.Join(args, " "),
		Started: time.Now(),
		CPUs:    runtime.NumCPU(),
	}}
	if o.progress {
		b.progress = os.Stderr
	}
	b.run.Pinning = "Server and generator not pinned."
	if o.pin && runtime.NumCPU() >= 2 {
		b.serverCPU = runtime.NumCPU() - 1
		if err := proc.PinAll(0, 0); err != nil {
			b.run.Pinning = fmt.Sprintf("Generator pinning failed (%v); ", err)
		} else {
			b.run.Pinning = "Generator pinned to CPU 0 (sched_setaffinity on all its threads); "
		}
		b.run.Pinning += fmt.Sprintf("each server pinned to CPU %d.", b.serverCPU)
	}
	b.run.Notes = append(b.run.Notes,
		"Servers run as separate processes on 127.0.0.1; CPU is utime+stime from /proc/<pid>/stat over the measuring window; goroutines from the server's /metrics go_goroutines.",
		"Forwarded pkt/s are counted at the viewers. Loss is end to end on the publishers' packet index.",
		"No window is discarded for noise: beside each one, 'other processes' CPU' is what every other process used on the server's own core (that core's busy time from /proc/stat minus the pinned server's; it competed with the server directly) and on the whole machine, with the busiest of them by name (from /proc/<pid>/stat; processes that lived only inside the window are in the totals but not named). 'softirq' is kernel time, mostly loopback delivery of forwarded packets, charged to no process.",
		"raw = one ingress decrypted once, then per viewer SRTP (AES-GCM) + one sendmsg per packet on one socket (keys over HTTP, no per-viewer ICE/DTLS); raw-batched = the same, but a frame's packets go to each viewer as one UDP GSO send and the viewers' sends in sendmmsg batches; naive = Pion TrackLocalStaticRTP fan-out with default interceptors, one PC per viewer; livekit = a LiveKit server binary (-livekit-bin) driven by lkbench with the same publishers and viewers.",
		"Publishers run a NACK responder and sender reports only.")
	if o.viewerNACK {
		b.run.Notes = append(b.run.Notes, "Viewers run one interceptor, a NACK generator (-viewer-nack): they NACK lost packets and send no other RTCP (no RR, TWCC or PLI); 'unrecovered' is loss after the server's repair.")
	} else {
		b.run.Notes = append(b.run.Notes, "Viewers run no interceptors: they send no RTCP at all (no NACK, RR, TWCC or PLI), so loss is never repaired and 'unrecovered' is the forwarder's loss.")
	}

	var seatsfuBin string
	for _, t := range o.targets {
		// -alternate pairs LiveKit with a seatsfu server of its own.
		if isSeatsfu(t) || (t == "livekit" && o.alternate > 0) {
			if seatsfuBin, err = b.seatsfuBinary(ctx); err != nil {
				return err
			}
			break
		}
	}
	if slices.Contains(o.targets, "livekit") {
		if err := b.prepareLivekit(ctx); err != nil {
			return err
		}
	}
	var errs []error
	for rep := 1; rep <= o.repeat; rep++ {
		failed := map[string]bool{} // targets whose fan-out failed: skip their bigger steps
		for _, j := range b.plan(cmd) {
			if j.scenario == "fanout" && failed[j.target] {
				continue
			}
			if j.scenario == scenarioAlternating || j.scenario == scenarioAlternatingLK {
				run := b.runAlternating
				if j.scenario == scenarioAlternatingLK {
					run = b.runLivekitAlternating
				}
				rs, err := run(ctx, j, seatsfuBin)
				if err != nil {
					if ctx.Err() != nil {
						return err
					}
					errs = append(errs, fmt.Errorf("fanout %v V=%d alternating (repeat %d): %w", j.targets, j.viewers, rep, err))
					b.run.Notes = append(b.run.Notes, fmt.Sprintf("fanout %v V=%d alternating (repeat %d) failed: %v", j.targets, j.viewers, rep, err))
				}
				for _, r := range rs {
					if o.repeat > 1 {
						r.Repeat = rep
					}
					b.run.Results = append(b.run.Results, r)
				}
				continue
			}
			r, err := b.runOnce(ctx, j, seatsfuBin)
			if err != nil {
				if ctx.Err() != nil {
					return err
				}
				if j.scenario == "fanout" {
					failed[j.target] = true
				}
				errs = append(errs, fmt.Errorf("%s %s V=%d (repeat %d): %w", j.scenario, j.target, j.viewers, rep, err))
				b.run.Notes = append(b.run.Notes, fmt.Sprintf("%s %s V=%d (repeat %d) failed: %v", j.scenario, j.target, j.viewers, rep, err))
				continue
			}
			if o.repeat > 1 {
				r.Repeat = rep
			}
			b.run.Results = append(b.run.Results, r)
		}
	}
	b.summarise()
	sortResults(b.run.Results)
	md, err := report.Write(o.out, b.run)
	fmt.Print(md)
	if err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// seatsfuBinary returns -seatsfu, or builds ./cmd/seatsfu into the output
// dir. When the work tree does not build (another package mid-edit), it
// builds the last commit instead, from a clean export of HEAD, and says so
// in the report.
func (b *bench) seatsfuBinary(ctx context.Context) (string, error) {
	if b.o.seatsfuBin != "" {
		b.run.Notes = append(b.run.Notes, "seatsfu binary given with -seatsfu: "+b.o.seatsfuBin)
		return b.o.seatsfuBin, nil
	}
	bin, err := filepath.Abs(filepath.Join(b.o.out, "seatsfu.bin"))
	if err != nil {
		return "", err
	}
	fmt.Fprintln(os.Stderr, "building ./cmd/seatsfu …")
	var stderr strings.Builder
	c := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/seatsfu")
	c.Stderr = &stderr
	if err := c.Run(); err == nil {
		b.run.Notes = append(b.run.Notes, "seatsfu built from the work tree at "+gitHead(ctx))
		return bin, nil
	}
	fmt.Fprintf(os.Stderr, "work tree does not build:\n%s… building HEAD instead\n", stderr.String())
	dir, err := os.MkdirTemp("", "seatbench-head-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	export := exec.CommandContext(ctx, "sh", "-c", `git archive HEAD | tar -x -C "$1"`, "sh", dir)
	export.Stderr = os.Stderr
	if err := export.Run(); err != nil {
		return "", fmt.Errorf("export HEAD: %w", err)
	}
	c = exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/seatsfu")
	c.Dir, c.Stderr = dir, os.Stderr
	if err := c.Run(); err != nil {
		return "", fmt.Errorf("build seatsfu at HEAD (run from the module root, or pass -seatsfu): %w", err)
	}
	b.run.Notes = append(b.run.Notes, "seatsfu built from commit "+gitHead(ctx)+" (the work tree did not compile at the time)")
	return bin, nil
}

func gitHead(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown commit"
	}
	return strings.TrimSpace(string(out))
}

// server is a started server process and how to open a target on it.
type server struct {
	p      *proc.Server
	info   load.Server
	open   func(ctx context.Context, room string, seats int) (load.Target, error)
	seated *load.SeatsfuTarget // last seatsfu target, for handover
	ws     string              // seatsfu's signalling URL and token secret
	secret []byte
}

func (b *bench) start(ctx context.Context, name, seatsfuBin string) (*server, error) {
	port, err := proc.FreeTCPPort()
	if err != nil {
		return nil, err
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	spec := proc.Spec{Name: name, BaseURL: base, CPU: b.serverCPU, Stderr: b.log}
	var secret []byte
	var udp int
	if isSeatsfu(name) {
		udp, err = proc.FreeUDPPort()
		if err != nil {
			return nil, err
		}
		raw := make([]byte, 32)
		_, _ = rand.Read(raw)
		secret = []byte(hex.EncodeToString(raw))
		spec.Path = seatsfuBin
		if name == "seatsfu-b" {
			spec.Path = b.o.seatsfuB
		}
		// Every simulated client comes from 127.0.0.1: the per-address
		// connection cap is for attackers, not for the generator.
		spec.Args = []string{"serve", "--http", fmt.Sprintf("127.0.0.1:%d", port), "--rtc-udp-port", strconv.Itoa(udp), "--rtc-ip", "127.0.0.1", "--secret", string(secret),
			"--max-conns-per-ip", "0"}
		if !slices.Contains(b.extra, "--egress-floor") {
			// A measurement of the forwarding at a set audience: the
			// node's own admission control (on by default from 10 000
			// pkt/s) would turn viewers away in a second with drops.
			// The overload phase sets what it tests.
			spec.Args = append(spec.Args, "--egress-floor", "0")
		}
		spec.Args = append(spec.Args, b.extra...)
		spec.Args = append(spec.Args, seatsfuTargetArgs[name]...)
	} else if name == "livekit" {
		return nil, errors.New("livekit runs through lkbench, not start")
	} else {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		spec.Path = self
		spec.Args = []string{"baseline", "-mode", name, "-http", fmt.Sprintf("127.0.0.1:%d", port)}
	}
	p, err := proc.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	s := &server{p: p, info: load.Server{Name: name, PID: p.PID(), BaseURL: base, Pinned: p.Pinned, UDPPort: udp, Core: b.serverCPU, CorePinned: p.CPU >= 0 && p.Pinned != "not pinned",
		ProfileCuts: b.o.profileWindow && os.Getenv(cpuprofile.Env) != ""}} // seatsfu and the baselines both profile with internal/cpuprofile
	if isSeatsfu(name) {
		ws := fmt.Sprintf("ws://127.0.0.1:%d/v1/rtc", port)
		s.ws, s.secret = ws, secret
		s.open = func(ctx context.Context, room string, seats int) (load.Target, error) {
			t, err := load.NewSeatsfuTarget(ctx, s.info, ws, secret, room, max(seats, 2))
			if err == nil {
				s.seated = t
			}
			return t, err
		}
	} else {
		s.open = func(context.Context, string, int) (load.Target, error) { return load.NewBaselineTarget(s.info, name) }
	}
	return s, nil
}

// job is one scenario step against one target.
type job struct {
	scenario, target string
	viewers          int
	targets          []string // scenarioAlternating's, measured together
}

// seatsfuTargetArgs are the serve flags of seatsfu's targets besides
// seatsfu itself (its defaults: viewers on the own transport):
// seatsfu-pion is the same build with every viewer on a Pion
// PeerConnection (issue 16's old transport), to measure beside it.
var seatsfuTargetArgs = map[string][]string{"seatsfu-pion": {"--viewer-transport", "pion"}}

func isSeatsfu(name string) bool { return strings.HasPrefix(name, "seatsfu") }

// plan orders cmd's jobs step by step, the targets interleaved within each
// step, so background load on a shared machine falls on all targets alike
// instead of on whichever ran first.
func (b *bench) plan(cmd string) []job {
	o := b.o
	var jobs []job
	if cmd == "fanout" || cmd == "all" {
		for _, v := range o.steps {
			var together []string
			for _, t := range o.targets {
				switch {
				case o.alternate > 0 && cmd == "fanout" && t == "livekit":
					// In slices beside a seatsfu of its own, from lkbench's generator.
					jobs = append(jobs, job{scenario: scenarioAlternatingLK, target: t, viewers: v})
				case o.alternate > 0 && cmd == "fanout":
					together = append(together, t)
				default:
					jobs = append(jobs, job{scenario: "fanout", target: t, viewers: v})
				}
			}
			switch len(together) {
			case 0:
			case 1: // nothing to alternate with: a window of its own
				jobs = append(jobs, job{scenario: "fanout", target: together[0], viewers: v})
			default:
				jobs = append(jobs, job{scenario: scenarioAlternating, viewers: v, targets: together})
			}
		}
	}
	if cmd == "join" || cmd == "all" {
		v := o.joinViewers
		if cmd == "join" {
			v = o.viewers
		}
		for _, t := range o.targets {
			jobs = append(jobs, job{scenario: "join", target: t, viewers: v})
		}
	}
	for _, sc := range []string{"handover", "churn"} {
		if cmd == sc || cmd == "all" {
			for _, t := range o.targets {
				if isSeatsfu(t) { // the baselines have no seats
					jobs = append(jobs, job{scenario: sc, target: t, viewers: o.viewers})
				}
			}
		}
	}
	return jobs
}

// runOnce runs one job on a fresh server process, so no step inherits
// another's leftovers.
func (b *bench) runOnce(ctx context.Context, j job, seatsfuBin string) (*load.Result, error) {
	o := b.o
	if j.target == "livekit" {
		return b.runLivekit(ctx, j)
	}
	s, err := b.start(ctx, j.target, seatsfuBin)
	if err != nil {
		return nil, err
	}
	defer s.p.Stop()
	seats := o.guests + 1
	if j.scenario == "churn" {
		seats++ // a free seat for the applicants
	}
	t, err := s.open(ctx, fmt.Sprintf("%s-%d", j.scenario, j.viewers), seats)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	c := load.Config{Viewers: j.viewers, Guests: o.guests, Warmup: o.warmup, Duration: o.duration, Progress: b.progress, ViewerNACK: o.viewerNACK, ProbeMetrics: o.probe}
	switch j.scenario {
	case "fanout":
		return load.Fanout(ctx, t, c)
	case "join":
		c.Duration = min(c.Duration, 5*time.Second)
		r, err := load.Join(ctx, t, c)
		if ph := joinPhases(r); ph != "" {
			b.run.Notes = append(b.run.Notes, fmt.Sprintf("join %s V=%d: %s", j.target, j.viewers, ph))
		}
		return r, err
	case "churn":
		return load.Churn(ctx, s.seated, c)
	case "handover":
		return load.Handover(ctx, s.seated, load.HandoverConfig{Config: c, Rounds: o.rounds, Every: o.every})
	}
	return nil, fmt.Errorf("unknown scenario %q", j.scenario)
}

// sortResults groups the table by scenario, then target, then viewers.
func sortResults(rs []*load.Result) {
	order := map[string]int{"fanout": 0, "join": 1, "handover": 2, "churn": 3}
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.Scenario != b.Scenario {
			return order[a.Scenario] < order[b.Scenario]
		}
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		return a.Viewers < b.Viewers
	})
}

// ratioSpecs are the comparisons the report makes at every step: the
// numerator target's figure over the denominator's, from the same repeat.
var ratioSpecs = []struct {
	name, num, den string
	figure         func(*load.Result) float64
}{
	{"seatsfu CPU/pkt ÷ raw (per-packet sendmsg; target ≤ 1)", "seatsfu", "raw", cpuPerPacket},
	{"seatsfu CPU/pkt ÷ raw-batched (sendmmsg + GSO; target ≤ 1.3)", "seatsfu", "raw-batched", cpuPerPacket},
	// The same ratio with each window's CPU per packet over its speed
	// probe (proc.SpeedProbe): a model — it assumes the server's cost
	// moves with the machine as the probe's does — reported beside the
	// measured ratio, never instead of it.
	{"seatsfu ÷ raw-batched, each over its window's speed probe (model, not a measurement)", "seatsfu", "raw-batched", cpuPerProbe},
	{"raw CPU/pkt ÷ raw-batched (what batching saves)", "raw", "raw-batched", cpuPerPacket},
	{"livekit CPU/pkt ÷ seatsfu (target ≥ 2.5)", "livekit", "seatsfu", cpuPerPacket},
	{"livekit CPU/pkt ÷ seatsfu, in alternating slices from one generator (target ≥ 2.5)", "livekit", "seatsfu-lk", cpuPerPacket},
	// The same slices' raw-batched leg: the machine's best path beside
	// LiveKit, so the ceiling of the ratio above on this machine.
	{"livekit CPU/pkt ÷ raw-batched, in the same alternating slices (the most the ratio above can be here)", "livekit", "raw-batched-lk", cpuPerPacket},
	{"seatsfu-lk CPU/pkt ÷ raw-batched-lk (the same slices)", "seatsfu-lk", "raw-batched-lk", cpuPerPacket},
	{"seatsfu-b CPU/pkt ÷ seatsfu (an A/B of two builds)", "seatsfu-b", "seatsfu", cpuPerPacket},
	{"naive CPU/pkt ÷ seatsfu", "naive", "seatsfu", cpuPerPacket},
	{"livekit RSS/viewer ÷ seatsfu", "livekit", "seatsfu", func(r *load.Result) float64 { return r.RSSPerViewerBytes }},
}

func cpuPerPacket(r *load.Result) float64 { return r.CPUPerPacketUs }

// cpuPerProbe is CPU per packet in units of the window's speed probe; 0
// (no ratio) without a probe.
func cpuPerProbe(r *load.Result) float64 {
	if r.SpeedProbeUs <= 0 {
		return 0
	}
	return r.CPUPerPacketUs / r.SpeedProbeUs
}

// summarise computes every ratio at every step, once per repeat, and each
// target's saturation point (per repeat when there are several).
func (b *bench) summarise() {
	type key struct {
		target          string
		viewers, repeat int
	}
	fan := map[key]*load.Result{}
	byTarget := map[string][]*load.Result{}
	for _, r := range b.run.Results {
		if r.Scenario != "fanout" {
			continue
		}
		fan[key{r.Target, r.Viewers, max(r.Repeat, 1)}] = r
		name := r.Target
		if b.o.repeat > 1 {
			name = fmt.Sprintf("%s #%d", r.Target, r.Repeat)
		}
		byTarget[name] = append(byTarget[name], r)
	}
	if len(b.o.steps) > 1 {
		b.run.Saturation = map[string]report.Saturation{}
		for name, rs := range byTarget {
			b.run.Saturation[name] = report.FindSaturation(rs)
		}
	}
	for _, spec := range ratioSpecs {
		for _, v := range b.o.steps {
			ratio := report.Ratio{Name: spec.name, Viewers: v}
			for rep := 1; rep <= b.o.repeat; rep++ {
				n, d := fan[key{spec.num, v, rep}], fan[key{spec.den, v, rep}]
				if n == nil || d == nil || spec.figure(d) <= 0 || spec.figure(n) <= 0 || !comparable(n, d) {
					continue
				}
				ratio.Values = append(ratio.Values, spec.figure(n)/spec.figure(d))
				ratio.Noise = append(ratio.Noise, worseNoise(n, d))
			}
			if len(ratio.Values) > 0 {
				b.run.Ratios = append(b.run.Ratios, ratio)
			}
		}
	}
}

// comparable says whether a ratio of a and b means anything: both measured
// in their own windows, or in the same run of alternating slices.
func comparable(a, b *load.Result) bool {
	if len(a.AlternatedWith) == 0 && len(b.AlternatedWith) == 0 {
		return true
	}
	return slices.Contains(a.AlternatedWith, b.Target) && slices.Contains(b.AlternatedWith, a.Target)
}

// worseNoise is the larger other-process CPU on the server's core of two
// windows, -1 when either is unknown.
func worseNoise(a, b *load.Result) float64 {
	if a.OtherServerCorePct < 0 || b.OtherServerCorePct < 0 {
		return -1
	}
	return max(a.OtherServerCorePct, b.OtherServerCorePct)
}

// joinPhases says where a join's time went, "" when unknown.
func joinPhases(r *load.Result) string {
	if r == nil || r.JoinPhases == nil {
		return ""
	}
	p := r.JoinPhases
	return fmt.Sprintf("answer → ICE connected p50/p95 %.0f/%.0f ms, → DTLS connected %.0f/%.0f ms, → first packet %.0f/%.0f ms, → first keyframe %.0f/%.0f ms (connected → keyframe per viewer %.0f/%.0f ms)",
		p.ICEP50Ms, p.ICEP95Ms, p.ConnectedP50Ms, p.ConnectedP95Ms, p.FirstPacketP50Ms, p.FirstPacketP95Ms,
		r.JoinKeyframeP50Ms, r.JoinKeyframeP95Ms, p.ConnectedToKeyP50Ms, p.ConnectedToKeyP95Ms)
}
