package load

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/seatsfu/seatsfu/bench/proc"
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

	// track, when set, is a counter each answered scrape reads (summed
	// over its labels) into series: where in a window something happened.
	track  string
	series []counterSample
}

// counterSample is the tracked counter's value when a scrape was answered.
type counterSample struct {
	At    time.Time
	Value float64
}

// probeTimeout bounds one scrape: one that takes longer has failed.
// probeLimit is how long a scrape may take before it counts as one the
// server did not answer in time, when the window ends under it.
const (
	probeTimeout = 5 * time.Second
	probeLimit   = time.Second
)

// startProbe scrapes url every period until stop, reading counter track
// from each answer when track is not empty. period 0: no probe.
func startProbe(url string, period time.Duration, track string) *metricsProbe {
	if period <= 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &metricsProbe{cancel: cancel, done: make(chan struct{}), track: track}
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
	var body []byte
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = io.ErrUnexpectedEOF
		}
	}
	d := time.Since(start)
	if err == nil && p.track != "" {
		if v, err := proc.SumMetric(bytes.NewReader(body), p.track); err == nil {
			p.mu.Lock()
			p.series = append(p.series, counterSample{At: start.Add(d / 2), Value: v})
			p.mu.Unlock()
		}
	}
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

// perSecond is the tracked counter's growth in each whole second from
// since, as far as the samples reach: the growth between two samples
// counts in the second of the later one (samples are a period apart).
func (p *metricsProbe) perSecond(since time.Time) []float64 {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []float64
	prev := -1.0
	for _, s := range p.series {
		if s.At.Before(since) {
			prev = s.Value
			continue
		}
		if prev < 0 {
			prev = s.Value
			continue
		}
		k := int(s.At.Sub(since) / time.Second)
		for len(out) <= k {
			out = append(out, 0)
		}
		out[k] += s.Value - prev
		prev = s.Value
	}
	return out
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
