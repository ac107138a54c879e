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

// runAdapt is `seatbench adapt`: issue 12's per-viewer adaptation
// (PROTOCOL.md §9) against a real seatsfu process — simulcast publishers,
// viewers behind impairment relays with mixed downlink caps — and, in the
// same run, the CPU check: the same room with single-layer publishers,
// alternating with simulcast -repeat times, each pair a ratio of CPU per
// forwarded packet (the budget: simulcast ≤ 1.2× single layer), reported
// with its median and spread. Like fanout, the server is pinned to the last
// core and the generator to the first (-pin). Writes adapt.json,
// adapt-cpu.json, adapt.md and adapt.png to -out.
//
//	seatbench adapt -caps 0,3,1,0.5 -duration 20s -repeat 3 -out bench/out
func runAdapt(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("adapt", flag.ContinueOnError)
	caps := fs.String("caps", "0,3,1,0.5", "one viewer per entry: its downlink cap in Mbit/s (0: uncapped)")
	pubs := fs.Int("publishers", 3, "simulcast publishers (seats 0..)")
	warmup := fs.Duration("warmup", 8*time.Second, "before measuring, for the estimates to settle")
	duration := fs.Duration("duration", 20*time.Second, "the measured window")
	compare := fs.Bool("compare", true, "also run single-layer publishers, for the CPU per packet")
	repeat := fs.Int("repeat", 3, "simulcast / single-layer pairs for the CPU comparison, alternating (with -compare)")
	pin := fs.Bool("pin", true, "pin the server and the generator to separate cores")
	out := fs.String("out", "bench/out", "where adapt.json, adapt.md and adapt.png go")
	label := fs.String("label", "busy machine", "the figure's label: what the machine was doing")
	bin := fs.String("seatsfu", "", "seatsfu binary (default: go build ./cmd/seatsfu)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var capBps []int64
	for _, f := range strings.Split(*caps, ",") {
		mbps, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || mbps < 0 {
			return fmt.Errorf("-caps: %q is not a rate in Mbit/s", f)
		}
		capBps = append(capBps, int64(mbps*1e6))
	}
	if *pubs < 1 || *pubs > 15 {
		return fmt.Errorf("-publishers must be 1..15")
	}
	if *repeat < 1 {
		return fmt.Errorf("-repeat must be at least 1")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	cpu, pinning := pinGenerator(*pin)
	srv, stop, err := startServerOn(ctx, *bin, "adapt", nil, cpu)
	if err != nil {
		return err
	}
	pinning += " Server: " + srv.Pinned + "."
	defer stop()
	base, secret, port, udp := srv.base, srv.secret, srv.port, srv.udp
	info := load.Server{Name: "seatsfu", PID: srv.PID(), BaseURL: base, Pinned: srv.Pinned, UDPPort: udp}
	ws := fmt.Sprintf("ws://127.0.0.1:%d/v1/rtc", port)

	var runs []*load.AdaptResult
	modes := []bool{false}
	if *compare {
		modes = []bool{}
		for range *repeat {
			modes = append(modes, false, true)
		}
	}
	for i, single := range modes {
		fmt.Fprintf(os.Stderr, "adapt: %d publishers (single layer: %v), %d viewers, %v warm-up + %v…\n", *pubs, single, len(capBps), *warmup, *duration)
		t, err := load.NewSeatsfuTarget(ctx, info, ws, []byte(secret), fmt.Sprintf("adapt%d", i), max(*pubs, 2))
		if err != nil {
			return err
		}
		r, err := load.Adapt(ctx, t, load.AdaptConfig{Publishers: *pubs, Caps: capBps, Warmup: *warmup, Duration: *duration, Single: single})
		_ = t.Close()
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	first := runs[:min(2, len(runs))] // the adaptation figures: the first pair
	md := fmt.Sprintf("## seatbench adapt (%s)\n\n%s\n%s\n", *label, report.AdaptMarkdown(first...), pinning)
	if *compare {
		c, err := load.CompareCPU(runs)
		if err != nil {
			return err
		}
		md += cpuMarkdown(c)
		js, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(*out, "adapt-cpu.json"), js, 0o644); err != nil {
			return err
		}
	}
	js, err := json.MarshalIndent(runs, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "adapt.json"), js, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "adapt.md"), []byte(md), 0o644); err != nil {
		return err
	}
	if err := report.PlotAdapt(filepath.Join(*out, "adapt.png"), runs[0], *label); err != nil {
		return err
	}
	fmt.Print(md)
	return nil
}

// pinGenerator pins this process to the first core and returns the core
// for the server (the last; -1 when not pinned) and how it was done.
func pinGenerator(pin bool) (int, string) {
	if !pin || runtime.NumCPU() < 2 {
		return -1, "Server and generator not pinned."
	}
	if err := proc.PinAll(0, 0); err != nil {
		return runtime.NumCPU() - 1, fmt.Sprintf("Generator pinning failed (%v).", err)
	}
	return runtime.NumCPU() - 1, "Generator pinned to CPU 0."
}

// cpuMarkdown reports the CPU comparison: each pair, and the ratio's
// median and spread against the 1.2× budget.
func cpuMarkdown(c load.CPUComparison) string {
	var b strings.Builder
	b.WriteString("### CPU per forwarded packet, simulcast vs single layer (alternating runs)\n\n")
	b.WriteString("| pair | simulcast µs/pkt | single layer µs/pkt | ratio |\n|---|---|---|---|\n")
	for i := range c.Ratios {
		fmt.Fprintf(&b, "| %d | %.2f | %.2f | %.2f× |\n", i+1, c.SimulcastUs[i], c.SingleUs[i], c.Ratios[i])
	}
	verdict := "within"
	if c.Median > 1.2 {
		verdict = "over"
	}
	fmt.Fprintf(&b, "\nsimulcast ÷ single layer: median %.2f× (%.2f–%.2f over %d pairs), %s the 1.2× budget\n",
		c.Median, c.Min, c.Max, len(c.Ratios), verdict)
	return b.String()
}

// allAdaptArgs are adapt's flags in `seatbench all`: its defaults, with the
// output directory, the seatsfu binary, the pinning and (at least 3) the
// repeats of all's own flags.
func allAdaptArgs(args []string) []string {
	o, err := parseFlags("all", args)
	if err != nil {
		return nil // runBench refused them already
	}
	out := []string{"-out", o.out, "-pin=" + strconv.FormatBool(o.pin), "-repeat", strconv.Itoa(max(3, o.repeat))}
	if o.seatsfuBin != "" {
		out = append(out, "-seatsfu", o.seatsfuBin)
	}
	return out
}
