package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/seatsfu/seatsfu/bench/abuse"
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

	srv, stop, err := startServer(ctx, *bin, "abuse", extra)
	if err != nil {
		return err
	}
	defer stop()
	base, secret := srv.base, srv.secret
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
