// Package abuse replays issue 11's attacks against a running seatsfu and
// measures what held: thousands of idle keep-alive connections without a
// token (Conns), and a crowd of applicants with 1 KiB of extraInfo each
// (Applicants). While each attack runs, a prober fetches /healthz and an
// honest client joins a room, from loopback addresses the attacker does not
// use (any 127.0.0.0/8 address is loopback on Linux).
package abuse

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/token"
)

// Target is the server under attack.
type Target struct {
	BaseURL string // http://127.0.0.1:port
	Secret  []byte
	// Metric reads a metric of the server (summed over labels).
	Metric func(name string) (float64, error)
	// FDs counts the server's open file descriptors.
	FDs func() (int, error)
}

func (t Target) wsURL() string { return "ws" + strings.TrimPrefix(t.BaseURL, "http") + "/v1/rtc" }

func (t Target) addr() string { return strings.TrimPrefix(t.BaseURL, "http://") }

// loopback is the i-th attacker address, 127.0.1.x (x from 1), so a crowd
// can come from several addresses.
func loopback(i int) string { return fmt.Sprintf("127.0.%d.%d", 1+i/250, 1+i%250) }

// Honest clients and the prober come from here.
const honestIP = "127.0.0.9"

func dialer(ip string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
}

// Probe is what the prober saw: /healthz fetched every 100 ms.
type Probe struct {
	OK, Failed int
	Slowest    time.Duration
}

func (p Probe) String() string {
	return fmt.Sprintf("/healthz %d ok, %d failed, slowest %v", p.OK, p.Failed, p.Slowest.Round(time.Millisecond))
}

// probe fetches /healthz from ip until ctx ends.
func probe(ctx context.Context, base, ip string) Probe {
	hc := &http.Client{
		Transport: &http.Transport{DialContext: dialer(ip).DialContext, DisableKeepAlives: true},
		Timeout:   2 * time.Second,
	}
	var p Probe
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return p
		case <-t.C:
		}
		start := time.Now()
		resp, err := hc.Get(base + "/healthz")
		d := time.Since(start)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err != nil || resp.StatusCode != http.StatusOK {
			p.Failed++
			continue
		}
		p.OK++
		p.Slowest = max(p.Slowest, d)
	}
}

// honestJoin dials and joins room as a fresh audience member from honestIP,
// then leaves; it returns how long the join took.
func honestJoin(ctx context.Context, tg Target, room, user string) (time.Duration, error) {
	tok, err := token.Mint(tg.Secret, token.Identity{UserID: user, Room: room, Name: user, Role: proto.RoleAudience}, time.Hour)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	c, err := client.Dial(ctx, tg.wsURL(), tok, client.WithHTTPClient(httpFrom(honestIP)))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if _, err := c.Join(ctx, nil); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func httpFrom(ip string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: dialer(ip).DialContext}}
}

// openRoom connects the owner of room (from honestIP) and opens or resumes
// it.
func openRoom(ctx context.Context, tg Target, room string) (*client.Client, proto.Snapshot, error) {
	tok, err := token.Mint(tg.Secret, token.Identity{UserID: "owner", Room: room, Name: "owner", Role: proto.RoleOwner}, time.Hour)
	if err != nil {
		return nil, proto.Snapshot{}, err
	}
	c, err := client.Dial(ctx, tg.wsURL(), tok, client.WithHTTPClient(httpFrom(honestIP)))
	if err != nil {
		return nil, proto.Snapshot{}, err
	}
	snap, err := c.Join(ctx, nil)
	if err != nil {
		c.Close()
		return nil, proto.Snapshot{}, err
	}
	return c, snap, nil
}

// ConnsResult is what the idle-connection attack found.
type ConnsResult struct {
	Attempted, Served, Refused, Cut int // Served: 401 answered and kept; Refused: 503; Cut: closed without an answer
	HeldByServer                    float64
	ServerFDs                       int
	Probe                           Probe
	HonestJoin                      time.Duration
	HonestErr                       error
	Goroutines                      [2]float64 // before, after
}

// Conns opens n keep-alive connections from ips addresses, sends each one
// GET /v1/rtc without a token, and holds them for hold while the prober
// and an honest client work.
func Conns(ctx context.Context, tg Target, n, ips int, hold time.Duration) (ConnsResult, error) {
	var res ConnsResult
	res.Attempted = n
	owner, _, err := openRoom(ctx, tg, "abuse-conns")
	if err != nil {
		return res, fmt.Errorf("open room: %w", err)
	}
	defer owner.Close()
	res.Goroutines[0], _ = tg.Metric("go_goroutines")

	pctx, stopProbe := context.WithCancel(ctx)
	probed := make(chan Probe, 1)
	go func() { probed <- probe(pctx, tg.BaseURL, honestIP) }()

	var mu sync.Mutex
	var held []net.Conn
	var served, refused, cut atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for i := 0; i < n && ctx.Err() == nil; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func(ip string) {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := dialer(ip).DialContext(ctx, "tcp", tg.addr())
			if err != nil {
				cut.Add(1)
				return
			}
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_, err = io.WriteString(c, "GET /v1/rtc HTTP/1.1\r\nHost: seatsfu\r\n\r\n")
			var resp *http.Response
			if err == nil {
				resp, err = http.ReadResponse(bufio.NewReader(c), nil)
			}
			switch {
			case err != nil:
				cut.Add(1)
				_ = c.Close()
				return
			case resp.StatusCode == http.StatusServiceUnavailable:
				refused.Add(1)
				resp.Body.Close()
				_ = c.Close()
				return
			}
			resp.Body.Close()
			served.Add(1)
			_ = c.SetDeadline(time.Time{})
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}(loopback(i % max(ips, 1)))
	}
	wg.Wait()
	res.Served, res.Refused, res.Cut = int(served.Load()), int(refused.Load()), int(cut.Load())

	time.Sleep(hold / 2)
	res.HonestJoin, res.HonestErr = honestJoin(ctx, tg, "abuse-conns", "honest")
	res.HeldByServer, _ = tg.Metric("seatsfu_http_connections")
	if tg.FDs != nil {
		res.ServerFDs, _ = tg.FDs()
	}
	time.Sleep(hold / 2)
	stopProbe()
	res.Probe = <-probed

	mu.Lock()
	for _, c := range held {
		_ = c.Close()
	}
	mu.Unlock()
	res.Goroutines[1] = settle(tg, res.Goroutines[0])
	return res, nil
}

// settle waits up to 10 s for the server's goroutines to come back near
// before, and returns the last count.
func settle(tg Target, before float64) float64 {
	var g float64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		g, _ = tg.Metric("go_goroutines")
		if g <= before+5 {
			break
		}
	}
	return g
}

// ApplicantsResult is what the applicant crowd found.
type ApplicantsResult struct {
	Attempted, Accepted, RequestsFull, Other int
	OwnerResumed                             bool
	OwnerErr                                 error
	SnapshotRequests, RequestsTotal          int
	SnapshotBytes                            int
	Paged                                    int
	Probe                                    Probe
	HonestJoin                               time.Duration
	HonestErr                                error
	Goroutines                               [2]float64
}

// Applicants joins n audience members (spread over ips addresses, so the
// per-address cap is not what stops them) into one room; each applies for
// a seat with 1 KiB of extraInfo. Then the owner's socket drops and it
// resumes with the Go SDK, and pages every pending request.
func Applicants(ctx context.Context, tg Target, n, ips int) (ApplicantsResult, error) {
	var res ApplicantsResult
	res.Attempted = n
	const room = "abuse-applicants"
	owner, _, err := openRoom(ctx, tg, room)
	if err != nil {
		return res, fmt.Errorf("open room: %w", err)
	}
	res.Goroutines[0], _ = tg.Metric("go_goroutines")
	pctx, stopProbe := context.WithCancel(ctx)
	probed := make(chan Probe, 1)
	go func() { probed <- probe(pctx, tg.BaseURL, honestIP) }()

	extra := strings.Repeat("x", seat.MaxExtraInfo)
	var accepted, full, other atomic.Int64
	var mu sync.Mutex
	var crowd []*client.Client
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := 0; i < n && ctx.Err() == nil; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			user := fmt.Sprintf("fan%d", i)
			tok, err := token.Mint(tg.Secret, token.Identity{UserID: user, Room: room, Name: user, Role: proto.RoleAudience}, time.Hour)
			if err != nil {
				other.Add(1)
				return
			}
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			c, err := client.Dial(cctx, tg.wsURL(), tok, client.WithHTTPClient(httpFrom(loopback(i%max(ips, 1)))))
			if err != nil {
				other.Add(1)
				return
			}
			mu.Lock()
			crowd = append(crowd, c)
			mu.Unlock()
			if _, err := c.Join(cctx, nil); err != nil {
				other.Add(1)
				return
			}
			_, err = c.ApplyForSeat(cctx, proto.NoSeat, 0, extra)
			switch {
			case err == nil:
				accepted.Add(1)
			case errors.Is(err, client.ErrRequestsFull):
				full.Add(1)
			default:
				other.Add(1)
			}
		}(i)
	}
	wg.Wait()
	res.Accepted, res.RequestsFull, res.Other = int(accepted.Load()), int(full.Load()), int(other.Load())

	// The owner drops and resumes, as a phone switching networks would.
	owner.Drop()
	again, snap, err := openRoom(ctx, tg, room)
	if err != nil {
		res.OwnerErr = err
	} else {
		res.OwnerResumed = true
		res.SnapshotRequests = len(snap.Requests)
		if snap.RequestsTotal != nil {
			res.RequestsTotal = *snap.RequestsTotal
		}
		if b, err := json.Marshal(snap); err == nil {
			res.SnapshotBytes = len(b)
		}
		all, err := again.AllSeatRequests(ctx, 100)
		res.Paged = len(all)
		if err != nil {
			res.OwnerErr = err
		}
		again.Close()
	}
	res.HonestJoin, res.HonestErr = honestJoin(ctx, tg, room, "honest")
	stopProbe()
	res.Probe = <-probed
	for _, c := range crowd {
		c.Close()
	}
	owner.Close()
	res.Goroutines[1] = settle(tg, res.Goroutines[0])
	return res, nil
}
