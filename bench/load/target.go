// Package load drives the benchmark scenarios (fanout, join, handover,
// churn) against a target — seatsfu or one of the baselines — and measures
// what viewers receive and what the server process spends.
package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/bench/baseline"
	"github.com/seatsfu/seatsfu/bench/peer"
	"github.com/seatsfu/seatsfu/bench/proc"
	"github.com/seatsfu/seatsfu/internal/cpuprofile"
)

// Server says where the server under test runs, so a scenario can read its
// CPU, RSS and /metrics.
type Server struct {
	Name    string
	PID     int
	BaseURL string
	// Pinned says how the process was pinned to its core, or why not.
	Pinned string
	// Core is the core the server is pinned to, when CorePinned.
	Core       int
	CorePinned bool
	// UDPPort is the server's one media port (seatsfu's ICE UDP mux), 0
	// when it has many; it lets a scenario count drops on that socket.
	UDPPort int
	// InProcess marks a server sharing the generator's process: its CPU
	// figures then include the generator's (smoke runs only).
	InProcess bool
	// ProfileCuts says the process profiles itself (SEATSFU_CPUPROFILE)
	// and cuts its profile on cpuprofile.CutSignal: a scenario then cuts
	// at the measuring window's edges, so one segment is the window alone.
	ProfileCuts bool
}

// cutProfile asks the server to cut its CPU profile; a no-op unless it
// profiles itself.
func (s Server) cutProfile() {
	if s.ProfileCuts && s.PID > 0 && !s.InProcess {
		_ = syscall.Kill(s.PID, cpuprofile.CutSignal)
	}
}

// Usage reads the server's CPU time and RSS.
func (s Server) Usage() (proc.Usage, error) { return proc.ReadUsage(s.PID) }

// Metric sums one /metrics family.
func (s Server) Metric(name string) (float64, error) {
	return (&proc.Server{BaseURL: s.BaseURL}).Metric(name)
}

// Viewer is a connected viewer of any target.
type Viewer interface {
	Report() []peer.TrackReport
	SubscribedNs() int64
	Close() error
}

// Target is a forwarder under test.
type Target interface {
	Server() Server
	// Publish signals a publisher's offer for seat (0 is the host) and
	// returns the answer.
	Publish(ctx context.Context, seat int, offer string) (string, error)
	// AddViewer connects viewer n, subscribed to seats 0..seats-1.
	AddViewer(ctx context.Context, api *webrtc.API, sink *peer.Sink, n, seats int) (Viewer, error)
	// Close releases the target's signalling (not the server process).
	Close() error
}

// httpTarget is a baseline: raw or naive, over the baseline's HTTP signalling.
type httpTarget struct {
	srv    Server
	raw    bool
	client *http.Client
}

// NewBaselineTarget drives a baseline server at srv.BaseURL; mode is "raw",
// "raw-batched" (both take raw viewers) or "naive".
func NewBaselineTarget(srv Server, mode string) (Target, error) {
	if mode != "raw" && mode != "raw-batched" && mode != "naive" {
		return nil, fmt.Errorf("load: unknown baseline %q", mode)
	}
	return &httpTarget{srv: srv, raw: mode != "naive", client: &http.Client{Timeout: 15 * time.Second}}, nil
}

func (t *httpTarget) Server() Server { return t.srv }
func (t *httpTarget) Close() error   { return nil }

func (t *httpTarget) post(ctx context.Context, path, ctype string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.srv.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("load: %s %s: HTTP %d: %s", t.srv.Name, path, resp.StatusCode, bytes.TrimSpace(out))
	}
	return out, nil
}

func (t *httpTarget) Publish(ctx context.Context, _ int, offer string) (string, error) {
	b, err := t.post(ctx, "/publish", "application/sdp", []byte(offer))
	return string(b), err
}

func (t *httpTarget) AddViewer(ctx context.Context, api *webrtc.API, sink *peer.Sink, _, seats int) (Viewer, error) {
	path := fmt.Sprintf("/subscribe?tracks=%d", 2*seats)
	if t.raw {
		v, err := peer.NewRawViewer(sink)
		if err != nil {
			return nil, err
		}
		body, _ := json.Marshal(baseline.RawSubscribe{Addr: v.Addr()})
		resp, err := t.post(ctx, path, "application/json", body)
		if err != nil {
			_ = v.Close()
			return nil, err
		}
		var keys baseline.RawKeys
		if err := json.Unmarshal(resp, &keys); err != nil {
			_ = v.Close()
			return nil, fmt.Errorf("load: raw keys: %w", err)
		}
		if err := v.Start(keys.Key, keys.Salt, baseline.RawProfile); err != nil {
			_ = v.Close()
			return nil, err
		}
		return v, nil
	}
	v, offer, err := peer.NewViewer(api, sink, seats)
	if err != nil {
		return nil, err
	}
	answer, err := t.post(ctx, path, "application/sdp", []byte(offer))
	if err == nil {
		err = v.Accept(string(answer))
	}
	if err != nil {
		_ = v.Close()
		return nil, err
	}
	return v, nil
}
