package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/seatsfu/seatsfu/bench/load"
	"github.com/seatsfu/seatsfu/bench/report"
)

// runAdapt is `seatbench adapt`: issue 12's per-viewer adaptation
// (PROTOCOL.md §9) against a real seatsfu process — simulcast publishers,
// viewers behind impairment relays with mixed downlink caps — and, in the
// same run, the same room with single-layer publishers to compare the CPU
// per forwarded packet. Writes adapt.json, adapt.md and adapt.png to -out.
//
//	seatbench adapt -caps 0,3,1,0.5 -duration 20s -out bench/out
func runAdapt(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("adapt", flag.ContinueOnError)
	caps := fs.String("caps", "0,3,1,0.5", "one viewer per entry: its downlink cap in Mbit/s (0: uncapped)")
	pubs := fs.Int("publishers", 3, "simulcast publishers (seats 0..)")
	warmup := fs.Duration("warmup", 8*time.Second, "before measuring, for the estimates to settle")
	duration := fs.Duration("duration", 20*time.Second, "the measured window")
	compare := fs.Bool("compare", true, "also run single-layer publishers, for the CPU per packet")
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
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	srv, stop, err := startServer(ctx, *bin, "adapt", nil)
	if err != nil {
		return err
	}
	defer stop()
	base, secret, port, udp := srv.base, srv.secret, srv.port, srv.udp
	info := load.Server{Name: "seatsfu", PID: srv.PID(), BaseURL: base, Pinned: srv.Pinned, UDPPort: udp}
	ws := fmt.Sprintf("ws://127.0.0.1:%d/v1/rtc", port)

	var runs []*load.AdaptResult
	modes := []bool{false}
	if *compare {
		modes = append(modes, true)
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
	md := fmt.Sprintf("## seatbench adapt (%s)\n\n%s", *label, report.AdaptMarkdown(runs...))
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
