package load

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// AdaptConfig is the adapt scenario (PROTOCOL.md §9): Publishers simulcast
// publishers on seats 0.., one viewer per entry of Caps, each behind an
// impairment relay capping its downlink at that many bit/s (0: uncapped).
type AdaptConfig struct {
	Publishers int
	Caps       []int64
	Warmup     time.Duration // before measuring: the estimates settle
	Duration   time.Duration
	// Single publishes one plain high-quality encoding instead of three
	// layers: the single-layer figure to compare the CPU cost with.
	Single bool
}

// DefaultAdaptCaps are issue 12's viewers: none, 3, 1 and 0.5 Mbit/s.
var DefaultAdaptCaps = []int64{0, 3_000_000, 1_000_000, 500_000}

// AdaptResult is one adapt run.
type AdaptResult struct {
	Single     bool          `json:"single"`
	Publishers int           `json:"publishers"`
	Seconds    float64       `json:"seconds"`
	Viewers    []ViewerAdapt `json:"viewers"`
	// ServerCPUPct is the server's CPU over the window (100 = one core);
	// ForwardedPPS the RTP packets it sent viewers per second; CPUPerPacketUs
	// the CPU time per forwarded packet, µs.
	ServerCPUPct   float64 `json:"serverCpuPct"`
	ForwardedPPS   float64 `json:"forwardedPps"`
	CPUPerPacketUs float64 `json:"cpuPerPacketUs"`
	LayerSwitches  float64 `json:"layerSwitches"`
}

// Adapt runs the scenario against a seatsfu room of at least Publishers
// seats.
func Adapt(ctx context.Context, t *SeatsfuTarget, cfg AdaptConfig) (res *AdaptResult, err error) {
	if cfg.Publishers < 1 || len(cfg.Caps) == 0 || cfg.Duration <= 0 {
		return nil, errors.New("load: adapt needs publishers, viewers and a duration")
	}
	var closers []func() error
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			err = errors.Join(err, closers[i]())
		}
	}()
	for seat := range cfg.Publishers {
		p, err := NewSimPublisher(cfg.Single, func(offer string) (string, error) { return t.Publish(ctx, seat, offer) })
		if err != nil {
			return nil, err
		}
		closers = append(closers, p.Close)
	}
	api, err := viewerAPI()
	if err != nil {
		return nil, err
	}
	var views []*adaptViewer
	for i, c := range cfg.Caps {
		v, err := newAdaptViewer(ctx, t, api, fmt.Sprintf("adapt%d-%s", i, capName(c)), cfg.Publishers, c)
		if err != nil {
			return nil, err
		}
		views = append(views, v)
		closers = append(closers, v.Close)
	}
	if err := sleepCtx(ctx, cfg.Warmup); err != nil {
		return nil, err
	}
	srv := t.Server()
	u0, _ := srv.Usage()
	f0, _ := srv.Metric("seatsfu_forwarded_packets_total")
	s0, _ := srv.Metric("seatsfu_layer_switches_total")
	from := time.Now()
	if err := sleepCtx(ctx, cfg.Duration); err != nil {
		return nil, err
	}
	to := time.Now()
	u1, _ := srv.Usage()
	f1, _ := srv.Metric("seatsfu_forwarded_packets_total")
	s1, _ := srv.Metric("seatsfu_layer_switches_total")
	secs := to.Sub(from).Seconds()
	res = &AdaptResult{Single: cfg.Single, Publishers: cfg.Publishers, Seconds: secs, LayerSwitches: s1 - s0}
	cpu := (u1.CPU - u0.CPU).Seconds()
	res.ServerCPUPct = 100 * cpu / secs
	res.ForwardedPPS = (f1 - f0) / secs
	if f1 > f0 {
		res.CPUPerPacketUs = cpu / (f1 - f0) * 1e6
	}
	for _, v := range views {
		res.Viewers = append(res.Viewers, v.tally(cfg.Publishers, from, to))
	}
	return res, nil
}

func capName(bps int64) string {
	if bps == 0 {
		return "uncapped"
	}
	return fmt.Sprintf("%gMbps", float64(bps)/1e6)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
