// Command seatbench is seatsfu's load generator and benchmark report.
//
//	seatbench fanout   -viewers 50 -guests 2 -duration 20s -out bench/out
//	seatbench join     -viewers 100 -out bench/out
//	seatbench handover -viewers 50 -rounds 5 -out bench/out
//	seatbench churn    -viewers 50 -duration 20s -out bench/out
//	seatbench all      -steps 25,50,100,200 -out bench/out   (the full report)
//	seatbench fanout   -steps 100,200 -repeat 3 -livekit-bin /work/lk/livekit-server
//	seatbench abuse    -conns 20000 -applicants 1200 [-- seatsfu serve flags]
//	seatbench adapt    -caps 0,3,1,0.5 -duration 20s -repeat 3 -out bench/out
//	seatbench overload -step 50 -max 600 -duration 8s -out bench/out
//	seatbench cascade  -steps 20,200 -duration 15s -out bench/out   (three nodes, one Redis)
//
// Every server under test — seatsfu (built from ./cmd/seatsfu unless
// -seatsfu names a binary), the raw, raw-batched and naive baselines (this
// binary's hidden "baseline" subcommand) and LiveKit (a binary given with
// -livekit-bin, driven by lkbench from the bench/livekit module) — runs as
// its own process on 127.0.0.1, pinned to the last core while the
// generator keeps the first (when the machine has two or more). Output: run.json, run.md and run.png in -out,
// a progress bar on stderr, the Markdown on stdout.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "seatbench:", err)
		os.Exit(1)
	}
}

func usage() error {
	return fmt.Errorf("usage: seatbench fanout|join|handover|churn|all|abuse|adapt|overload|cascade [flags] (see -h of each)")
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usage()
	}
	switch args[0] {
	case "baseline": // hidden: a baseline server process
		return runBaseline(ctx, args[1:])
	case "fanout", "join", "handover", "churn":
		return runBench(ctx, args[0], args[1:])
	case "all": // the bench's scenarios, then adapt's (adapt.go)
		if err := runBench(ctx, "all", args[1:]); err != nil {
			return err
		}
		return runAdapt(ctx, allAdaptArgs(args[1:]))
	case "abuse": // abuse.go
		return runAbuse(ctx, args[1:])
	case "adapt": // adapt.go
		return runAdapt(ctx, args[1:])
	case "overload": // overload.go
		return runOverload(ctx, args[1:])
	case "cascade": // cascade.go
		return runCascade(ctx, args[1:])
	case "probe-metrics": // hidden: overload's /metrics probe process (probe.go)
		return runProbeMetrics(args[1:])
	}
	return usage()
}
