package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/seatsfu/seatsfu/bench/abuse"
	"github.com/seatsfu/seatsfu/bench/proc"
)

// runAbuse is `seatbench abuse`: issue 11's attacks against a real seatsfu
// process started with its defaults (or the limits given after --), and a
// report of what held.
//
//	seatbench abuse -conns 20000 -applicants 1200
func runAbuse(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("abuse", flag.ContinueOnError)
	conns := fs.Int("conns", 20000, "idle keep-alive connections without a token (0 skips the attack)")
	connIPs := fs.Int("conn-ips", 1, "loopback addresses the idle connections come from")
	hold := fs.Duration("hold", 6*time.Second, "how long the idle connections are held")
	applicants := fs.Int("applicants", 1200, "audience members applying with 1 KiB of extraInfo (0 skips the attack)")
	applicantIPs := fs.Int("applicant-ips", 10, "loopback addresses the applicants come from")
	bin := fs.String("seatsfu", "", "seatsfu binary (default: go build ./cmd/seatsfu)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	extra := fs.Args() // more seatsfu serve flags, e.g. --max-conns-per-ip 100

	path := *bin
	if path == "" {
		dir, err := os.MkdirTemp("", "seatbench-abuse-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "seatsfu")
		build := exec.CommandContext(ctx, "go", "build", "-o", path, "./cmd/seatsfu")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build seatsfu (run from the module root, or pass -seatsfu): %w", err)
		}
	}
	port, err := proc.FreeTCPPort()
	if err != nil {
		return err
	}
	udp, err := proc.FreeUDPPort()
	if err != nil {
		return err
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	secret := hex.EncodeToString(raw)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	srvArgs := append([]string{"serve", "--http", fmt.Sprintf("127.0.0.1:%d", port), "--rtc-udp-port", strconv.Itoa(udp),
		"--rtc-ip", "127.0.0.1", "--secret", secret, "--log-level", "error"}, extra...)
	srv, err := proc.Start(ctx, proc.Spec{Name: "seatsfu", Path: path, Args: srvArgs, BaseURL: base, CPU: -1, Stderr: io.Discard})
	if err != nil {
		return err
	}
	defer func() { _ = srv.Stop() }()
	tg := abuse.Target{
		BaseURL: base,
		Secret:  []byte(secret),
		Metric:  srv.Metric,
		FDs: func() (int, error) {
			entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", srv.PID()))
			return len(entries), err
		},
	}
	fmt.Printf("seatsfu %v\n\n", extra)
	if *conns > 0 {
		r, err := abuse.Conns(ctx, tg, *conns, *connIPs, *hold)
		if err != nil {
			return err
		}
		u, _ := srv.Usage()
		fmt.Printf("## %d idle keep-alive connections from %d address(es), held %v\n\n", r.Attempted, *connIPs, *hold)
		fmt.Printf("- answered 401 and kept: %d; refused 503: %d; closed without answer: %d\n", r.Served, r.Refused, r.Cut)
		fmt.Printf("- server holds %v connections, %d file descriptors, RSS %d MiB\n", r.HeldByServer, r.ServerFDs, u.RSS>>20)
		fmt.Printf("- prober during the attack: %v\n", r.Probe)
		fmt.Printf("- honest join during the attack: %v (err %v)\n", r.HonestJoin.Round(time.Millisecond), r.HonestErr)
		fmt.Printf("- goroutines %v before, %v after\n\n", r.Goroutines[0], r.Goroutines[1])
	}
	if *applicants > 0 {
		r, err := abuse.Applicants(ctx, tg, *applicants, *applicantIPs)
		if err != nil {
			return err
		}
		u, _ := srv.Usage()
		fmt.Printf("## %d applicants with 1 KiB extraInfo, from %d addresses\n\n", r.Attempted, *applicantIPs)
		fmt.Printf("- accepted: %d; requests_full: %d; other failures: %d\n", r.Accepted, r.RequestsFull, r.Other)
		fmt.Printf("- owner resumed: %v (err %v); snapshot %d requests of %d, %d bytes; paged %d\n",
			r.OwnerResumed, r.OwnerErr, r.SnapshotRequests, r.RequestsTotal, r.SnapshotBytes, r.Paged)
		fmt.Printf("- prober during the attack: %v\n", r.Probe)
		fmt.Printf("- honest join after the crowd: %v (err %v)\n", r.HonestJoin.Round(time.Millisecond), r.HonestErr)
		fmt.Printf("- goroutines %v before, %v after; RSS %d MiB\n", r.Goroutines[0], r.Goroutines[1], u.RSS>>20)
	}
	return nil
}
