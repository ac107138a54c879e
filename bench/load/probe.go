package load

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/seatsfu/seatsfu/bench/stats"
)

// metricsProbe scrapes a server's /metrics on a fixed period through a
// measuring window, so a report can say whether the server kept answering
// under load (issue 16: "/metrics answers within 1 s throughout"). A
// scrape that fails or takes longer than its timeout counts as a failure.
type metricsProbe struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	lat      stats.Histogram
	max      time.Duration
	failures int
}

// probeTimeout bounds one scrape: one that takes longer has failed.
// probeLimit is how long a scrape may take before it counts as one the
// server did not answer in time, when the window ends under it.
const (
	probeTimeout = 5 * time.Second
	probeLimit   = time.Second
)

// startProbe scrapes url every period until stop. period 0: no probe.
func startProbe(url string, period time.Duration) *metricsProbe {
	if period <= 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &metricsProbe{cancel: cancel, done: make(chan struct{})}
	go p.run(ctx, url, period)
	return p
}

func (p *metricsProbe) run(ctx context.Context, url string, period time.Duration) {
	defer close(p.done)
	client := &http.Client{Timeout: probeTimeout}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		p.scrape(ctx, client, url)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *metricsProbe) scrape(ctx context.Context, client *http.Client, url string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = io.ErrUnexpectedEOF
		}
	}
	d := time.Since(start)
	p.mu.Lock()
	defer p.mu.Unlock()
	if ctx.Err() != nil {
		// Cut off by stop: a scrape already past the limit has failed
		// (a server that never answers must not vanish from the count).
		if d >= probeLimit {
			p.failures++
			p.max = max(p.max, d)
		}
		return
	}
	if err != nil {
		p.failures++
		return
	}
	p.lat.Record(d)
	p.max = max(p.max, d)
}

// stop ends the probe and writes its figures into res.
func (p *metricsProbe) stop(res *Result) {
	if p == nil {
		return
	}
	p.cancel()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	res.MetricsScrapes = int(p.lat.Count()) + p.failures
	res.MetricsFailures = p.failures
	res.MetricsP95Ms = ms(p.lat.Quantile(0.95))
	res.MetricsMaxMs = ms(p.max)
}
