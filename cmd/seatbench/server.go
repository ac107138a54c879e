package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/seatsfu/seatsfu/bench/proc"
)

// probeServer is one seatsfu process a subcommand runs against, on loopback
// ports of its own, with a fresh secret.
type probeServer struct {
	*proc.Server
	base   string // http://127.0.0.1:PORT
	port   int    // its HTTP port
	udp    int    // its media port
	secret string
}

// startServer starts `seatsfu serve` from bin (built from the work tree into
// a temporary directory when empty), with extra serve flags. The caller
// stops it with the returned cleanup, which also removes the build.
func startServer(ctx context.Context, bin, name string, extra []string) (*probeServer, func(), error) {
	return startServerOn(ctx, bin, name, extra, -1)
}

// startServerOn is startServer pinned to core cpu (-1: not pinned).
func startServerOn(ctx context.Context, bin, name string, extra []string, cpu int) (*probeServer, func(), error) {
	cleanup := func() {}
	path := bin
	if path == "" {
		dir, err := os.MkdirTemp("", "seatbench-"+name+"-")
		if err != nil {
			return nil, cleanup, err
		}
		cleanup = func() { os.RemoveAll(dir) }
		path = filepath.Join(dir, "seatsfu")
		build := exec.CommandContext(ctx, "go", "build", "-o", path, "./cmd/seatsfu")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			return nil, cleanup, fmt.Errorf("build seatsfu (run from the module root, or pass -seatsfu): %w", err)
		}
	}
	port, err := proc.FreeTCPPort()
	if err != nil {
		return nil, cleanup, err
	}
	udp, err := proc.FreeUDPPort()
	if err != nil {
		return nil, cleanup, err
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	s := &probeServer{base: fmt.Sprintf("http://127.0.0.1:%d", port), port: port, udp: udp, secret: hex.EncodeToString(raw)}
	args := append([]string{"serve", "--http", fmt.Sprintf("127.0.0.1:%d", port), "--rtc-udp-port", strconv.Itoa(udp),
		"--rtc-ip", "127.0.0.1", "--secret", s.secret, "--log-level", "error"}, extra...)
	if s.Server, err = proc.Start(ctx, proc.Spec{Name: "seatsfu", Path: path, Args: args, BaseURL: s.base, CPU: cpu, Stderr: io.Discard}); err != nil {
		return nil, cleanup, err
	}
	built := cleanup
	return s, func() { _ = s.Stop(); built() }, nil
}
