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
	// gauge, when set, is a gauge each answered scrape reads into
	// gauges: what a server's state was, second by second.
	gauge  string
	gauges []counterSample
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
// and gauge from each answer when they are not empty. period 0: no probe.
func startProbe(url string, period time.Duration, track, gauge string) *metricsProbe {
	if period <= 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &metricsProbe{cancel: cancel, done: make(chan struct{}), track: track, gauge: gauge}
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
	if err == nil {
		p.read(body, p.track, &p.series, start.Add(d/2))
		p.read(body, p.gauge, &p.gauges, start.Add(d/2))
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

// read appends metric's value in body, read at at, to series (nothing
// when metric is empty or absent).
func (p *metricsProbe) read(body []byte, metric string, series *[]counterSample, at time.Time) {
	if metric == "" {
		return
	}
	if v, err := proc.SumMetric(bytes.NewReader(body), metric); err == nil {
		p.mu.Lock()
		*series = append(*series, counterSample{At: at, Value: v})
		p.mu.Unlock()
	}
}

// gaugeBySecond is the tracked gauge's last value in each whole second
// from since, as far as the samples reach; a second without a sample
// keeps the value before it (-1 before the first).
func (p *metricsProbe) gaugeBySecond(since time.Time) []float64 {
	if p == nil {
		return nil
	}
	var out []float64
	p.eachSecond(p.gauges, since, func(k int, before, v float64) {
		for len(out) <= k {
			out = append(out, before)
		}
		out[k] = v
	})
	return out
}

// perSecond is the tracked counter's growth in each whole second from
// since, as far as the samples reach: the growth between two samples
// counts in the second of the later one (samples are a period apart).
func (p *metricsProbe) perSecond(since time.Time) []float64 {
	if p == nil {
		return nil
	}
	var out []float64
	p.eachSecond(p.series, since, func(k int, before, v float64) {
		if before < 0 {
			return // the first sample: nothing to grow from
		}
		for len(out) <= k {
			out = append(out, 0)
		}
		out[k] += v - before
	})
	return out
}

// eachSecond calls each for every sample of series at or after since,
// with k its whole second from since and before the value of the sample
// preceding it (-1: none).
func (p *metricsProbe) eachSecond(series []counterSample, since time.Time, each func(k int, before, v float64)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	before := -1.0
	for _, s := range series {
		if !s.At.Before(since) {
			each(int(s.At.Sub(since)/time.Second), before, s.Value)
		}
		before = s.Value
	}
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
