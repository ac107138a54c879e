package main

import (
	"context"
	"flag"
	"log/slog"
	"net"
	"os"

	"github.com/seatsfu/seatsfu/bench/baseline"
	"github.com/seatsfu/seatsfu/internal/cpuprofile"
)

// runBaseline serves one baseline forwarder until SIGTERM.
func runBaseline(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	mode := fs.String("mode", "naive", "raw, raw-batched or naive")
	addr := fs.String("http", "127.0.0.1:0", "HTTP signalling address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	f, err := baseline.New(*mode, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp4", *addr)
	if err != nil {
		_ = f.Close()
		return err
	}
	defer cpuprofile.Start()() // SEATSFU_CPUPROFILE, as seatsfu's (issue 16's profiles)
	return baseline.Serve(ctx, ln, f, log)
}
