// Command lkbench runs one seatbench scenario step against a LiveKit
// server: it starts the binary given by -livekit-bin on 127.0.0.1 (pinned
// to -server-cpu), pins itself to -generator-cpu, drives it with the
// bench's synthetic publishers and viewers (bench/load), and prints the
// load.Result as JSON on stdout. seatbench runs it for its livekit target;
// it lives in its own module so seatsfu never depends on LiveKit.
//
//	lkbench fanout -livekit-bin /work/lk/livekit-server -viewers 50 -guests 2
//
// fanout-alternating measures LiveKit and a seatsfu server seatbench
// started (-seatsfu-ws and friends) in alternating slices, both driven from
// this one generator (bench/load/alternate.go), and prints both results as
// a JSON array; the seatsfu leg is named seatsfu-lk. With -raw-batched-base
// and -raw-batched-pid it measures a third leg in the same slices, a
// raw-batched baseline seatbench started (raw-batched-lk): the machine's
// best forwarding path beside LiveKit, the ceiling of LiveKit ÷ seatsfu-lk.
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
	if len(args) == 0 || (args[0] != "fanout" && args[0] != "join" && args[0] != "fanout-alternating") {
		return errors.New("usage: lkbench fanout|join|fanout-alternating -livekit-bin PATH [flags]")
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
	var sf seatsfuFlags
	fs.StringVar(&sf.ws, "seatsfu-ws", "", "fanout-alternating: the seatsfu server's signalling URL (ws://…/v1/rtc)")
	fs.StringVar(&sf.base, "seatsfu-base", "", "fanout-alternating: its HTTP base URL (/metrics)")
	fs.StringVar(&sf.secret, "seatsfu-secret", "", "fanout-alternating: its token secret")
	fs.IntVar(&sf.pid, "seatsfu-pid", 0, "fanout-alternating: its process id (CPU and memory)")
	fs.IntVar(&sf.udp, "seatsfu-udp", 0, "fanout-alternating: its media port")
	fs.StringVar(&sf.rawBase, "raw-batched-base", "", "fanout-alternating: a raw-batched baseline's HTTP base URL, measured as a third leg (raw-batched-lk)")
	fs.IntVar(&sf.rawPID, "raw-batched-pid", 0, "fanout-alternating: its process id")
	slice := fs.Duration("slice", 2*time.Second, "fanout-alternating: one target's slice")
	slices := fs.Int("slices", 6, "fanout-alternating: slices per target")
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
	if scenario == "fanout-alternating" {
		rs, err := alternate(ctx, t, sf, *serverCPU, load.AltConfig{Config: cfg, Slice: *slice, Rounds: *slices})
		if err != nil {
			return err
		}
		return json.NewEncoder(os.Stdout).Encode(rs)
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

// seatsfuFlags locate the seatsfu server of fanout-alternating, and the
// raw-batched baseline when there is one.
type seatsfuFlags struct {
	ws, base, secret string
	pid, udp         int
	rawBase          string
	rawPID           int
}

// alternate measures the seatsfu server (first), the raw-batched baseline
// when given, and LiveKit's target lk in alternating slices.
func alternate(ctx context.Context, lk *livekit.Target, sf seatsfuFlags, serverCPU int, cfg load.AltConfig) ([]*load.Result, error) {
	if sf.ws == "" || sf.base == "" || sf.secret == "" || sf.pid <= 0 {
		return nil, errors.New("fanout-alternating needs -seatsfu-ws, -seatsfu-base, -seatsfu-secret and -seatsfu-pid")
	}
	srv := load.Server{Name: "seatsfu-lk", PID: sf.pid, BaseURL: sf.base, UDPPort: sf.udp, Core: serverCPU,
		CorePinned: serverCPU >= 0, Pinned: fmt.Sprintf("taskset -c %d (by seatbench)", serverCPU)}
	if serverCPU < 0 {
		srv.Pinned = "not pinned"
	}
	st, err := load.NewSeatsfuTarget(ctx, srv, sf.ws, []byte(sf.secret), fmt.Sprintf("fanout-lk-%d", cfg.Viewers), max(cfg.Guests+1, 2))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	targets := []load.Target{st}
	if sf.rawBase != "" {
		if sf.rawPID <= 0 {
			return nil, errors.New("-raw-batched-base needs -raw-batched-pid")
		}
		raw := srv
		raw.Name, raw.PID, raw.BaseURL, raw.UDPPort = "raw-batched-lk", sf.rawPID, sf.rawBase, 0
		rt, err := load.NewBaselineTarget(raw, "raw-batched")
		if err != nil {
			return nil, err
		}
		defer rt.Close()
		targets = append(targets, rt)
	}
	return load.FanoutAlternating(ctx, append(targets, lk), cfg)
}
