package load

import (
	"context"
	"fmt"
	"time"

	"github.com/seatsfu/seatsfu/bench/peer"
	"github.com/seatsfu/seatsfu/bench/stats"
)

// Churn runs a fan-out load while, every second, one extra viewer joins and
// the oldest extra one leaves, and one audience member applies for a seat,
// is accepted by the host and leaves again. The steady viewers' latency and
// loss show whether churn disturbs the media path; the seat round trips
// show what signalling costs under load. Seatsfu only. The target's room
// needs a free seat: open it with at least Guests+2 seats.
func Churn(ctx context.Context, t *SeatsfuTarget, cfg Config) (*Result, error) {
	srv, res, st, err := begin("churn", t, &cfg)
	if err != nil {
		return nil, err
	}
	var reports [][]peer.TrackReport
	var subscribed []int64
	closed := false
	closeStage := func() {
		if !closed {
			closed = true
			r, s := st.close()
			reports, subscribed = append(reports, r...), append(subscribed, s...)
		}
	}
	defer closeStage()
	seats := cfg.Guests + 1
	for seat := 0; seat < seats; seat++ {
		if _, err := st.publish(ctx, seat, 0, func(ctx context.Context, offer string) (string, error) {
			return t.Publish(ctx, seat, offer)
		}); err != nil {
			return nil, err
		}
	}
	bar := newBar(cfg.Progress, fmt.Sprintf("churn %s V=%d", srv.Name, cfg.Viewers))
	st.connectViewers(ctx, t, 0, cfg.Viewers, seats, cfg.Parallel, nil)
	res.Connected = len(st.views)
	if res.Connected == 0 {
		return nil, fmt.Errorf("load: no viewer connected: %v", st.errors)
	}
	if err := sleepBar(ctx, bar, cfg.Warmup, "warm-up", st.sink); err != nil {
		return nil, err
	}
	st.sink.Measuring.Store(true)
	u0, _ := srv.Usage()
	start := time.Now()
	var seatRTT stats.Histogram
	var churners []Viewer
	const keep = 3 // extra viewers alive at once
	next := cfg.Viewers
	for i := 0; time.Since(start) < cfg.Duration; i++ {
		tick := time.Now()
		bar.show(float64(time.Since(start))/float64(cfg.Duration), fmt.Sprintf("churn %d", i))
		if v, err := t.AddViewer(ctx, st.api, st.sink, next, seats); err != nil {
			res.Errors = appendErr(res.Errors, err)
		} else {
			churners = append(churners, v)
		}
		next++
		if len(churners) > keep {
			old := churners[0]
			churners = churners[1:]
			reports = append(reports, old.Report())
			subscribed = append(subscribed, old.SubscribedNs())
			_ = old.Close()
		}
		if d, err := t.SeatRoundTrip(ctx, fmt.Sprintf("applicant%d", i)); err != nil {
			res.Errors = appendErr(res.Errors, err)
		} else {
			seatRTT.Record(d)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second - time.Since(tick)):
		}
	}
	secs := time.Since(start).Seconds()
	u1, _ := srv.Usage()
	st.sink.Measuring.Store(false)
	bar.done()
	// The last joiners may still be connecting: give them time to see
	// their first keyframe, or their join time would go uncounted.
	waitKeyframes(ctx, churners, 3*time.Second)
	for _, v := range churners {
		reports = append(reports, v.Report())
		subscribed = append(subscribed, v.SubscribedNs())
		_ = v.Close()
	}
	res.Seconds = secs
	res.ServerCPUPct = 100 * (u1.CPU - u0.CPU).Seconds() / secs
	res.SeatOps = int(seatRTT.Count())
	res.SeatOpP50Ms = ms(seatRTT.Quantile(0.5))
	res.SeatOpP95Ms = ms(seatRTT.Quantile(0.95))
	res.LatencyP50Ms = ms(st.sink.Latency.Quantile(0.5))
	res.LatencyP95Ms = ms(st.sink.Latency.Quantile(0.95))
	res.LatencyP99Ms = ms(st.sink.Latency.Quantile(0.99))
	res.Latency = &st.sink.Latency
	closeStage()
	res.tallyViewers(reports, subscribed)
	return res, nil
}

// waitKeyframes polls until every viewer saw a video keyframe or timeout.
func waitKeyframes(ctx context.Context, views []Viewer, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		all := true
		for _, v := range views {
			if !sawKeyframe(v.Report()) {
				all = false
				break
			}
		}
		if all {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sawKeyframe(rep []peer.TrackReport) bool {
	for _, t := range rep {
		if t.FirstKeyNs != 0 {
			return true
		}
	}
	return false
}

func appendErr(errs []string, err error) []string {
	if len(errs) < 10 {
		errs = append(errs, err.Error())
	}
	return errs
}
