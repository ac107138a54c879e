package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/seatsfu/seatsfu/bench/load"
	"github.com/seatsfu/seatsfu/bench/proc"
	"github.com/seatsfu/seatsfu/bench/report"
)

// runOverload is `seatbench overload`: issue 16's overload proof against
// seatsfu pinned to its own core. First the saturation search on a server
// with no egress budget (viewers added -step at a time, each step measured,
// until one loses more than 1 % after NACK repair or delivers under 95 % of
// what its viewers should get, then the last step halved twice by dropping
// or adding viewers); then a fresh server with --egress-budget
// (-budget, or the saturating step's delivered pkt/s × -budget-frac) and
// -factor × the saturating count of viewers. Writes overload.json and
// overload.md to -out.
//
//	seatbench overload -step 50 -max 600 -guests 2 -warmup 3s -duration 8s -out bench/out
func runOverload(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("overload", flag.ContinueOnError)
	step := fs.Int("step", 50, "viewers added per saturation step")
	maxV := fs.Int("max", 600, "the saturation search stops here")
	factor := fs.Float64("factor", 1.5, "the overload phase sends this many times the saturating count")
	refine := fs.Int("refine", 2, "halve the last step this many times (-1: no refinement)")
	budget := fs.Int("budget", 0, "--egress-budget of the overload phase, pkt/s (0: the saturating step's goodput × -budget-frac; -1: none, the server's own protection from -floor)")
	floor := fs.Int("floor", 0, "--egress-floor of the overload phase with -budget -1 (0: off, to see a burst unprotected; the server's default is 10000)")
	egressCPU := fs.Int("cpu", -1, "--egress-cpu of the overload phase with -budget -1, percent; it acts only with -floor > 0, as the server judges no second under its floor (0: off; -1: the server's default, 90)")
	burst := fs.Bool("burst", false, "the overload phase's viewers all join at once instead of 8 at a time")
	known := fs.Int("saturating", 0, "skip the search: this many viewers saturate (with -peak)")
	peak := fs.Float64("peak", 0, "with -saturating: the search's peak and clean delivered pkt/s")
	frac := fs.Float64("budget-frac", 1.0, "see -budget")
	guests := fs.Int("guests", 2, "co-guests besides the host (0..9)")
	warmup := fs.Duration("warmup", 3*time.Second, "settling after each step's joins")
	duration := fs.Duration("duration", 8*time.Second, "each measuring window")
	probe := fs.Duration("probe-metrics", 250*time.Millisecond, "scrape /metrics this often through the overload phase")
	out := fs.String("out", "bench/out", "where overload.json, overload.md and servers.log go")
	bin := fs.String("seatsfu", "", "seatsfu binary (default: go build ./cmd/seatsfu)")
	pin := fs.Bool("pin", true, "pin the server and the generator to separate cores")
	progress := fs.Bool("progress", true, "progress bar on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *frac <= 0 || *budget < -1 || *floor < 0 || *egressCPU < -1 || *egressCPU > 100 {
		return fmt.Errorf("-budget must be ≥ -1, -budget-frac > 0, -floor ≥ 0 and -cpu -1..100")
	}
	if (*known > 0) != (*peak > 0) {
		return fmt.Errorf("-saturating and -peak go together")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(*out, "servers.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	o := &options{out: *out, seatsfuBin: *bin, guests: *guests, warmup: *warmup, duration: *duration}
	b := &bench{o: o, serverCPU: -1, log: logf, run: &report.Run{}}
	pinning := "server and generator not pinned"
	if *pin && runtime.NumCPU() >= 2 {
		b.serverCPU = runtime.NumCPU() - 1
		pinning = fmt.Sprintf("server pinned to CPU %d, generator to CPU 0", b.serverCPU)
		if err := proc.PinAll(0, 0); err != nil {
			pinning = fmt.Sprintf("server pinned to CPU %d, generator pinning failed (%v)", b.serverCPU, err)
		}
	}
	seatsfuBin, err := b.seatsfuBinary(ctx)
	if err != nil {
		return err
	}
	cfg := load.OverloadConfig{
		Config: load.Config{Guests: *guests, Warmup: *warmup, Duration: *duration, ProbeMetrics: *probe},
		Step:   *step, MaxViewers: *maxV, Factor: *factor, Refine: *refine, Burst: *burst,
	}
	if *progress {
		cfg.Progress = os.Stderr
	}
	if self, err := os.Executable(); err == nil { // the /metrics probe process (probe.go)
		cfg.OutsideProbe = []string{self, "probe-metrics"}
	}

	phase := func(name string, run func(load.Target) error) error {
		// A port picked free can be taken by the time the server binds it
		// (its ICE-TCP listener shares the UDP port's number): try again.
		var s *server
		var err error
		for try := 0; try < 3; try++ {
			if s, err = b.start(ctx, "seatsfu", seatsfuBin); err == nil {
				break
			}
		}
		if err != nil {
			return err
		}
		defer s.p.Stop()
		t, err := s.open(ctx, name, *guests+1)
		if err != nil {
			return err
		}
		defer t.Close()
		return run(t)
	}
	var sat *load.Saturation
	if *known > 0 {
		sat = &load.Saturation{Viewers: *known, PeakPPS: *peak, CleanPPS: *peak, CleanGoodPPS: *peak, Saturated: true, Given: true}
	} else if err := phase("saturation", func(t load.Target) (err error) {
		sat, err = load.Saturate(ctx, t, cfg)
		return err
	}); err != nil {
		if sat != nil { // the steps it measured say why
			fmt.Print(overloadMarkdown("seatbench overload "+strings.Join(args, " "), pinning, b.run.Notes, sat, nil))
		}
		return fmt.Errorf("saturation search: %w", err)
	}
	egress := *budget
	if egress == 0 {
		// Goodput, not delivered: the server's budget counts the media
		// it forwards and retransmits, and a clean step can deliver more
		// than was due — a starved generator's publisher catching up,
		// probe padding. Run 1 of results/2026-12-07-s5-quiet-overload
		// delivered 280k of 263k due (each viewer 104–109 % of its due),
		// and that budget admitted more viewers than the core served.
		egress = int(sat.CleanGoodPPS * *frac)
	}
	var res *load.OverloadResult
	b.extra = []string{"--egress-floor", strconv.Itoa(*floor)} // the search ran with none (bench.go)
	if *egressCPU >= 0 {
		b.extra = append(b.extra, "--egress-cpu", strconv.Itoa(*egressCPU))
	}
	if egress > 0 {
		b.extra = []string{"--egress-budget", strconv.Itoa(egress)}
	}
	if err := phase("overload", func(t load.Target) (err error) {
		res, err = load.Overload(ctx, t, cfg, sat, egress)
		return err
	}); err != nil {
		return fmt.Errorf("overload phase: %w", err)
	}

	md := overloadMarkdown("seatbench overload "+strings.Join(args, " "), pinning, b.run.Notes, sat, res)
	js, err := json.MarshalIndent(struct {
		Saturation *load.Saturation     `json:"saturation"`
		Overload   *load.OverloadResult `json:"overload"`
	}{sat, res}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "overload.json"), js, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "overload.md"), []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Print(md)
	return nil
}

func overloadMarkdown(cmd, pinning string, notes []string, sat *load.Saturation, res *load.OverloadResult) string {
	var w strings.Builder
	fmt.Fprintf(&w, "## seatbench overload\n\n`%s` — %s; viewers NACK (loss is after repair).\n", cmd, pinning)
	for _, n := range notes {
		fmt.Fprintf(&w, "- %s\n", n)
	}
	fmt.Fprintf(&w, "\n### Saturation search (no egress budget)\n\n")
	fmt.Fprintf(&w, "| viewers | connected | expected pkt/s | delivered pkt/s | loss after repair %% | before repair %% | server CPU %% | generator CPU %% | other CPU on server core %% | server queue drops | generator socket drops | viewers receiving 0 / < 50 %% / ≥ 90 %% of due |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	row := func(r load.StepResult) {
		other := "–"
		if r.OtherServerCorePct >= 0 {
			other = fmt.Sprintf("%.0f", r.OtherServerCorePct)
		}
		rc := r.Receivers
		fmt.Fprintf(&w, "| %d | %d | %.0f | %.0f | %.3f | %.3f | %.0f | %.0f | %s | %.0f | %d | %d / %d / %d |\n", r.Viewers, r.Connected, r.ExpectedPPS, r.DeliveredPPS, r.LossPct, r.GapPct, r.ServerCPUPct, r.GeneratorCPUPct, other, r.Drops.ServerQueue, r.Drops.GeneratorSockets, rc.None, rc.None+rc.UnderHalf, rc.Full)
	}
	for _, r := range sat.Steps {
		row(r)
	}
	if sat.Given {
		fmt.Fprintf(&w, "| (given with -saturating and -peak: no search) ||||||||||||\n")
	}
	state := "the last clean count; the next step (or halving) was not"
	if !sat.Saturated {
		state = "NOT saturated: the search's ceiling, a floor of the true count"
	}
	fmt.Fprintf(&w, "\nSaturating count **%d** viewers (%s); clean step delivered %.0f pkt/s (goodput %.0f); peak %.0f pkt/s delivered, %.0f pkt/s goodput (due and received).\n", sat.Viewers, state, sat.CleanPPS, sat.CleanGoodPPS, sat.PeakPPS, sat.PeakGoodPPS)
	if res == nil {
		return w.String()
	}
	budget := fmt.Sprintf("at --egress-budget %d", res.Budget)
	if res.Budget <= 0 {
		budget = "with no egress budget (the command's -floor is the server's --egress-floor, its -cpu the server's --egress-cpu)"
	}
	fmt.Fprintf(&w, "\n### Overload: %d viewers %s\n\n", res.Attempted, budget)
	fmt.Fprintf(&w, "| viewers | connected | expected pkt/s | delivered pkt/s | loss after repair %% | before repair %% | server CPU %% | generator CPU %% | other CPU on server core %% | server queue drops | generator socket drops | viewers receiving 0 / < 50 %% / ≥ 90 %% of due |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	row(res.Window)
	rc := res.Window.Receivers
	fmt.Fprintf(&w, "\nPer viewer, of the packets each was due in the window: %d viewers, %d received none, %d under 50 %%, %d 50–90 %%, %d ≥ 90 %%; p10 / p50 / p90 %.0f / %.0f / %.0f %%; %d had not completed DTLS (%d not even ICE).\n", rc.Viewers, rc.None, rc.UnderHalf, rc.Partial, rc.Full, rc.P10, rc.P50, rc.P90, rc.NotConnected, rc.NoICE)
	fmt.Fprintf(&w, "\nJoins took %.1f s; shed_total over the phase: %v; the server's egress_packets_per_second at the end: %.0f; its price of a viewer before the joins %.0f pkt/s, at the end %.0f; its learned ceiling at the end %.0f pkt/s (0: none).\n\n", res.JoinSeconds, res.Shed, res.EgressGauge, res.PriceBefore, res.PriceAfter, res.CeilingAfter)
	mode := "joins 8 at a time"
	if res.Burst {
		mode = "all joins at once (-burst)"
	}
	fmt.Fprintf(&w, "Where packets were lost (%s):\n\n", mode)
	fmt.Fprintf(&w, "| span | server queue | server send errors | server socket (rx) | generator sockets (rx) | send-buffer errors | softnet | NACKs in | retransmitted |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, d := range []struct {
		name string
		d    load.Drops
	}{{"joins + settling + window", res.PhaseDrops}, {"window", res.Window.Drops}} {
		fmt.Fprintf(&w, "| %s | %.0f | %.0f | %d | %d | %d | %d | %.0f | %.0f |\n", d.name, d.d.ServerQueue, d.d.EgressErrors, d.d.ServerSocket, d.d.GeneratorSockets, d.d.SndbufErrors, d.d.Softnet, d.d.NACKs, d.d.Retransmitted)
	}
	if len(res.QueueDropsBySecond) > 0 {
		secs := make([]string, len(res.QueueDropsBySecond))
		for i, d := range res.QueueDropsBySecond {
			secs[i] = fmt.Sprintf("%.0f", d)
		}
		fmt.Fprintf(&w, "\nServer queue drops in each second from the joins' start (the window is seconds %.1f–%.1f): %s.\n",
			res.WindowEnd-res.Window.Seconds, res.WindowEnd, strings.Join(secs, ", "))
	}
	if len(res.CeilingBySecond) > 0 {
		secs := make([]string, len(res.CeilingBySecond))
		for i, c := range res.CeilingBySecond {
			secs[i] = fmt.Sprintf("%.0f", c)
		}
		fmt.Fprintf(&w, "\nThe server's learned egress ceiling in the same seconds, pkt/s (0: none, the budget alone): %s.\n", strings.Join(secs, ", "))
	}
	if len(res.ServerCoreBySecond) > 0 {
		secs := make([]string, len(res.ServerCoreBySecond))
		for i, c := range res.ServerCoreBySecond {
			secs[i] = fmt.Sprintf("%.0f/%.0f/%.0f", c.ServerPct, c.SoftIRQPct, c.StealPct)
		}
		fmt.Fprintf(&w, "\nThe server's core in the same seconds, %% of it — the server process / softirq / steal: %s.\n", strings.Join(secs, ", "))
	}
	fmt.Fprintln(&w)
	fmt.Fprintf(&w, "| issue 16's bound | measured | met |\n|---|---|---|\n")
	for _, c := range res.Checks {
		ok := "no"
		if c.OK {
			ok = "yes"
		}
		fmt.Fprintf(&w, "| %s | %s | %s |\n", c.What, c.Got, ok)
	}
	if len(res.Errors) > 0 {
		fmt.Fprintf(&w, "\nOther join failures: %s\n", strings.Join(res.Errors, "; "))
	}
	return w.String()
}
