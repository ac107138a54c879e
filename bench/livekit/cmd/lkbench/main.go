// Command lkbench runs one seatbench scenario step against a LiveKit
// server: it starts the binary given by -livekit-bin on 127.0.0.1 (pinned
// to -server-cpu), pins itself to -generator-cpu, drives it with the
// bench's synthetic publishers and viewers (bench/load), and prints the
// load.Result as JSON on stdout. seatbench runs it for its livekit target;
// it lives in its own module so seatsfu never depends on LiveKit.
//
//	lkbench fanout -livekit-bin /work/lk/livekit-server -viewers 50 -guests 2
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/seatsfu/seatsfu/bench/livekit"
	"github.com/seatsfu/seatsfu/bench/load"
	"github.com/seatsfu/seatsfu/bench/proc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "lkbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "fanout" && args[0] != "join") {
		return errors.New("usage: lkbench fanout|join -livekit-bin PATH [flags]")
	}
	scenario := args[0]
	fs := flag.NewFlagSet(scenario, flag.ContinueOnError)
	bin := fs.String("livekit-bin", "", "LiveKit server binary (required)")
	viewers := fs.Int("viewers", 50, "viewers")
	guests := fs.Int("guests", 2, "co-guests besides the host (0..9)")
	warmup := fs.Duration("warmup", 3*time.Second, "warm-up before measuring")
	duration := fs.Duration("duration", 20*time.Second, "measuring window")
	serverCPU := fs.Int("server-cpu", -1, "pin the server to this core (-1: not pinned)")
	genCPU := fs.Int("generator-cpu", -1, "pin this generator to this core (-1: not pinned)")
	progress := fs.Bool("progress", true, "progress bar on stderr")
	probe := fs.Duration("probe-metrics", 0, "scrape LiveKit's /metrics this often through the window (0: off)")
	viewerNACK := fs.Bool("viewer-nack", false, "viewers NACK lost packets (and send no other RTCP)")
	serverLog := fs.String("server-log", "", "append the LiveKit server's output to this file (default: stderr)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *bin == "" {
		return errors.New("-livekit-bin is required")
	}
	if *genCPU >= 0 {
		if err := proc.PinAll(0, *genCPU); err != nil {
			return fmt.Errorf("pin the generator: %w", err)
		}
	}
	logw := os.Stderr
	if *serverLog != "" {
		f, err := os.OpenFile(*serverLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		logw = f
	}
	lk, err := livekit.Start(ctx, *bin, *serverCPU, logw)
	if err != nil {
		return err
	}
	defer lk.Stop()
	srv := load.Server{
		Name: "livekit", PID: lk.PID(), BaseURL: lk.MetricsURL, Pinned: lk.Pinned,
		Core: *serverCPU, CorePinned: *serverCPU >= 0 && lk.Pinned != "not pinned",
	}
	t := livekit.NewTarget(srv, lk, fmt.Sprintf("%s-%d", scenario, *viewers))
	defer t.Close()
	cfg := load.Config{Viewers: *viewers, Guests: *guests, Warmup: *warmup, Duration: *duration, ViewerNACK: *viewerNACK, ProbeMetrics: *probe}
	if *progress {
		cfg.Progress = os.Stderr
	}
	var r *load.Result
	if scenario == "fanout" {
		r, err = load.Fanout(ctx, t, cfg)
	} else {
		cfg.Duration = min(cfg.Duration, 5*time.Second)
		r, err = load.Join(ctx, t, cfg)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}
