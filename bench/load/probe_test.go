package load

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// The probe records answer times, counts errors, and counts a scrape that
// is still unanswered past the limit when the window ends — a server that
// stops answering must show up as a failure, not vanish.
func TestMetricsProbe(t *testing.T) {
	var n atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			w.WriteHeader(http.StatusOK) // answers at once
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable) // a failure
		default:
			select { // hangs until the test ends
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	defer close(release)

	p := startProbe(srv.URL+"/metrics", 10*time.Millisecond, "", "")
	deadline := time.Now().Add(10 * time.Second)
	for n.Load() < 3 { // the third scrape is hanging
		if time.Now().After(deadline) {
			t.Fatal("probe made fewer than 3 scrapes")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Let the hanging scrape pass the limit, then end the window.
	time.Sleep(probeLimit + 100*time.Millisecond)
	var r Result
	p.stop(&r)
	if r.MetricsScrapes != 3 || r.MetricsFailures != 2 {
		t.Fatalf("scrapes %d, failures %d; want 3 scrapes, 2 failures (a 503 and the hung one)", r.MetricsScrapes, r.MetricsFailures)
	}
	if r.MetricsMaxMs < float64(probeLimit/time.Millisecond) {
		t.Fatalf("max %.0f ms does not show the hung scrape", r.MetricsMaxMs)
	}
	if r.MetricsP95Ms <= 0 || r.MetricsP95Ms > 1000 {
		t.Fatalf("p95 %.1f ms of the one answered scrape", r.MetricsP95Ms)
	}

	var none Result
	(*metricsProbe)(nil).stop(&none) // ProbeMetrics 0: no probe, no figures
	if startProbe(srv.URL, 0, "", "") != nil || none.MetricsScrapes != 0 {
		t.Fatal("a zero period started a probe")
	}
}

// The probe says how much its tracked counter grew in each second.
func TestProbeTracksACounterPerSecond(t *testing.T) {
	t0 := time.Now()
	p := &metricsProbe{series: []counterSample{
		{t0.Add(-100 * time.Millisecond), 10}, // before: the base
		{t0.Add(300 * time.Millisecond), 15},
		{t0.Add(800 * time.Millisecond), 40},
		{t0.Add(2500 * time.Millisecond), 40},
		{t0.Add(2900 * time.Millisecond), 41},
	}}
	if got, want := fmt.Sprint(p.perSecond(t0)), "[30 0 1]"; got != want {
		t.Fatalf("per second %s, want %s", got, want)
	}
}

// And a tracked gauge's last value in each second, the one before carried
// through a second without a scrape.
func TestProbeTracksAGaugePerSecond(t *testing.T) {
	t0 := time.Now()
	p := &metricsProbe{gauges: []counterSample{
		{t0.Add(300 * time.Millisecond), 0},
		{t0.Add(800 * time.Millisecond), 9000},
		{t0.Add(2500 * time.Millisecond), 9180},
	}}
	var none *metricsProbe
	if none.gaugeBySecond(t0) != nil || none.perSecond(t0) != nil {
		t.Fatal("a probe that never ran has seconds")
	}
	if got, want := fmt.Sprint(p.gaugeBySecond(t0)), "[9000 9000 9180]"; got != want {
		t.Fatalf("per second %s, want %s", got, want)
	}
	p.gauges = []counterSample{{t0.Add(-time.Second), 5}, {t0.Add(1200 * time.Millisecond), 9000}, {t0.Add(2500 * time.Millisecond), 9180}}
	if got, want := fmt.Sprint(p.gaugeBySecond(t0)), "[5 9000 9180]"; got != want {
		t.Fatalf("with a sample before, per second %s, want %s", got, want)
	}
}
