package load

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/seatsfu/seatsfu/bench/proc"
)

// ServerWindow is what the server's own counters say happened inside the
// measuring window: what its CPU went on besides forwarding (garbage
// collection, retransmissions, keyframe replays still running from the
// joins, probes) and how well its sends were batched. It is how a dear
// window is explained rather than discarded (issue 16). Nil for targets
// whose /metrics lacks the families (the baselines, LiveKit).
type ServerWindow struct {
	GCCycles float64 `json:"gcCycles"`
	// GCPauseMs is the stop-the-world part of those cycles only; the
	// concurrent mark runs on the server's CPU too.
	GCPauseMs float64 `json:"gcPauseMs"`
	// HeapGrowthBytes is how much the heap the runtime holds grew.
	HeapGrowthBytes float64 `json:"heapGrowthBytes"`
	// Datagrams, Messages and Sends are the direct egress path's RTP
	// datagrams, sendmmsg entries (a UDP GSO entry carries several) and
	// sendmmsg calls.
	Datagrams float64 `json:"egressDatagrams"`
	Messages  float64 `json:"egressMessages"`
	Sends     float64 `json:"egressSendmmsg"`
	// PionPackets went through Pion's per-write layers instead.
	PionPackets      float64 `json:"egressPionPackets"`
	Retransmitted    float64 `json:"retransmitted"`
	KeyframeRequests float64 `json:"keyframeRequests"`
	Probes           float64 `json:"probes"`
	// ReplaysAtStart is the keyframe replays still running as the window
	// opened: joins not over yet.
	ReplaysAtStart float64 `json:"replaysAtStart"`
}

// windowFamilies are the /metrics families a ServerWindow is made of.
var windowFamilies = []string{
	"go_gc_duration_seconds_count", "go_gc_duration_seconds_sum", "go_memstats_heap_sys_bytes",
	egressDirect, egressPion, "seatsfu_egress_messages_total", "seatsfu_egress_batches_total",
	"seatsfu_retransmitted_packets_total", "seatsfu_keyframe_requests_total", "seatsfu_probes_total",
	"seatsfu_replays_active",
}

// The egress path's two packet counts (a labelled sample names itself).
const (
	egressDirect = `seatsfu_egress_packets_total{path="direct"}`
	egressPion   = `seatsfu_egress_packets_total{path="pion"}`
)

// counterSnapshot is one scrape of windowFamilies (missing ones absent).
type counterSnapshot map[string]float64

// snapshotCounters scrapes baseURL's /metrics once.
func snapshotCounters(baseURL string) (counterSnapshot, error) {
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(baseURL + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("load: /metrics: %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	s := counterSnapshot{}
	for _, name := range windowFamilies {
		if v, err := proc.SumMetric(bytes.NewReader(body), name); err == nil {
			s[name] = v
		}
	}
	return s, nil
}

// serverWindow is the difference of two snapshots; nil unless both have
// the egress families (a seatsfu server).
func serverWindow(s0, s1 counterSnapshot) *ServerWindow {
	if _, ok := s0["seatsfu_egress_messages_total"]; !ok {
		return nil
	}
	if _, ok := s1["seatsfu_egress_messages_total"]; !ok {
		return nil
	}
	d := func(name string) float64 { return s1[name] - s0[name] }
	return &ServerWindow{
		GCCycles:         d("go_gc_duration_seconds_count"),
		GCPauseMs:        1000 * d("go_gc_duration_seconds_sum"),
		HeapGrowthBytes:  d("go_memstats_heap_sys_bytes"),
		Datagrams:        d(egressDirect),
		PionPackets:      d(egressPion),
		Messages:         d("seatsfu_egress_messages_total"),
		Sends:            d("seatsfu_egress_batches_total"),
		Retransmitted:    d("seatsfu_retransmitted_packets_total"),
		KeyframeRequests: d("seatsfu_keyframe_requests_total"),
		Probes:           d("seatsfu_probes_total"),
		ReplaysAtStart:   s0["seatsfu_replays_active"],
	}
}

// PerMessage is the datagrams one sendmmsg entry carried on average.
func (w *ServerWindow) PerMessage() float64 {
	if w == nil || w.Messages == 0 {
		return 0
	}
	return w.Datagrams / w.Messages
}

// PerSend is the datagrams one sendmmsg call carried on average.
func (w *ServerWindow) PerSend() float64 {
	if w == nil || w.Sends == 0 {
		return 0
	}
	return w.Datagrams / w.Sends
}

// speedProbe times proc.SpeedProbe on the server's core (0 when the
// server is not pinned to one, or the probe failed).
func (s Server) speedProbe() time.Duration {
	if !s.CorePinned || s.InProcess {
		return 0
	}
	d, err := proc.SpeedProbe(s.Core)
	if err != nil {
		return 0
	}
	return d
}

// meanSpeed is the mean of the window's two probes in microseconds, the
// one that ran when the other failed, 0 when both did.
func meanSpeed(a, b time.Duration) float64 {
	switch {
	case a > 0 && b > 0:
		return float64(a+b) / 2 / float64(time.Microsecond)
	case a > 0:
		return float64(a) / float64(time.Microsecond)
	}
	return float64(b) / float64(time.Microsecond)
}

// maxJoinWait bounds how long a window waits past the warm-up for the
// joins' keyframe replays to end.
const maxJoinWait = 10 * time.Second

// awaitJoinsDone waits, after the warm-up, until the server reports no
// keyframe replay running (seatsfu_replays_active 0), at most limit, and
// says how long it waited. A replay still running would put the joins'
// cost into the steady-state window (issue 16 found windows opening with
// replays still running after a 3 s warm-up). Servers without the gauge
// (the baselines, LiveKit, which replay nothing) do not wait.
func awaitJoinsDone(ctx context.Context, s Server, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		n, err := s.Metric("seatsfu_replays_active")
		if err != nil || n == 0 || time.Since(start) >= limit {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return time.Since(start), ctx.Err()
		case <-tick.C:
		}
	}
}
