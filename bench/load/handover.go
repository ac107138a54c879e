package load

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/seatsfu/seatsfu/bench/peer"
	"github.com/seatsfu/seatsfu/bench/stats"
	"github.com/seatsfu/seatsfu/bench/synth"
)

// HandoverConfig sizes the handover scenario.
type HandoverConfig struct {
	Config
	Rounds int           // seat 1 changes hands this many times
	Every  time.Duration // between handovers
}

// Handover runs a fan-out load and, Rounds times, moves seat 1 from its
// guest to a new one: the old guest leaves the seat, a new audience member
// takes it and publishes. For every viewer it measures the time from the
// seat grant to the first packet of the new guest's video on the seat-1
// slot — signalling, the new publisher's ICE/DTLS and the keyframe wait
// included, which is what a viewer sees. Seatsfu only: the baselines have
// no seats.
func Handover(ctx context.Context, t *SeatsfuTarget, cfg HandoverConfig) (*Result, error) {
	if cfg.Guests < 1 {
		cfg.Guests = 1
	}
	if cfg.Rounds < 1 {
		return nil, errors.New("load: handover needs at least one round")
	}
	if cfg.Every <= 0 {
		cfg.Every = 2 * time.Second
	}
	srv, res, st, err := begin("handover", t, &cfg.Config)
	if err != nil {
		return nil, err
	}
	var reports [][]peer.TrackReport
	var subscribed []int64
	closed := false
	closeStage := func() {
		if !closed {
			closed = true
			reports, subscribed = st.close()
		}
	}
	defer closeStage()
	seats := cfg.Guests + 1
	pubs := make([]*peer.Publisher, seats)
	for seat := 0; seat < seats; seat++ {
		if pubs[seat], err = st.publish(ctx, seat, 0, func(ctx context.Context, offer string) (string, error) {
			return t.Publish(ctx, seat, offer)
		}); err != nil {
			return nil, err
		}
	}
	bar := newBar(cfg.Progress, fmt.Sprintf("handover %s V=%d", srv.Name, cfg.Viewers))
	st.connectViewers(ctx, t, 0, cfg.Viewers, seats, cfg.Parallel, nil)
	res.Connected = len(st.views)
	res.Errors = append(res.Errors, st.errors...)
	if res.Connected == 0 {
		return nil, fmt.Errorf("load: no viewer connected: %v", st.errors)
	}
	if err := sleepBar(ctx, bar, cfg.Warmup, "warm-up", st.sink); err != nil {
		return nil, err
	}
	st.sink.Measuring.Store(true)
	type round struct {
		videoID   uint32
		grantedNs int64
	}
	var rounds []round
	start := time.Now()
	for k := 0; k < cfg.Rounds; k++ {
		bar.show(float64(k)/float64(cfg.Rounds), fmt.Sprintf("handover %d/%d", k+1, cfg.Rounds))
		if err := t.LeaveSeat(ctx, 1); err != nil {
			res.Errors = append(res.Errors, err.Error())
			break
		}
		st.pacer.Remove(pubs[1])
		_ = pubs[1].Close()
		id := uint32(1000 + 2*k)
		var r round
		pub, err := st.publish(ctx, 1, id, func(ctx context.Context, offer string) (string, error) {
			return t.SeatGuest(ctx, fmt.Sprintf("swap%d", k), 1, offer, func() { r.grantedNs = synth.MonoNow() })
		})
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
			break
		}
		pubs[1] = pub
		r.videoID = id
		rounds = append(rounds, r)
		if err := sleepBar(ctx, nil, cfg.Every, "", st.sink); err != nil {
			return nil, err
		}
	}
	st.sink.Measuring.Store(false)
	res.Seconds = time.Since(start).Seconds()
	bar.done()
	closeStage()
	res.tallyViewers(reports, subscribed)
	res.LatencyP50Ms = ms(st.sink.Latency.Quantile(0.5))
	res.LatencyP95Ms = ms(st.sink.Latency.Quantile(0.95))
	res.LatencyP99Ms = ms(st.sink.Latency.Quantile(0.99))
	res.Latency = &st.sink.Latency

	var h stats.Histogram
	var worst time.Duration
	missing := 0
	for _, r := range rounds {
		for _, rep := range reports {
			found := false
			for _, tr := range rep {
				for _, sw := range tr.Switches {
					if sw.To == r.videoID {
						d := time.Duration(sw.AtNs - r.grantedNs)
						h.Record(d)
						worst = max(worst, d)
						found = true
					}
				}
			}
			if !found {
				missing++
			}
		}
	}
	res.HandoverCount = len(rounds)
	res.HandoverP50Ms = ms(h.Quantile(0.5))
	res.HandoverP95Ms = ms(h.Quantile(0.95))
	res.HandoverMaxMs = ms(worst)
	if missing > 0 {
		res.Errors = append(res.Errors, fmt.Sprintf("%d viewer×handover pairs never saw the new guest's video", missing))
	}
	return res, nil
}

// Join measures a burst: all cfg.Viewers connect at once (no parallelism
// bound) against a running room, and the report's join→first-keyframe
// percentiles are the figures of interest.
func Join(ctx context.Context, t Target, cfg Config) (*Result, error) {
	cfg.Parallel = max(cfg.Viewers, 1)
	r, err := Fanout(ctx, t, cfg)
	if r != nil {
		r.Scenario = "join"
	}
	return r, err
}
