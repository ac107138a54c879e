package load

import (
	"strings"
	"testing"
)

// The outside probe reads the child's scrape lines until its stdin closes,
// and the /metrics bound is then checked on it, not on the generator's
// own probe (which read 11 ms here, and would have passed).
func TestOutsideProbeDecidesTheMetricsBound(t *testing.T) {
	// The child: two scrapes, one past the limit and failed, then it
	// waits for stdin to close as seatbench probe-metrics does.
	argv := []string{"sh", "-c", "echo 12.5 ok; echo 1500.0 fail; echo garbage; cat >/dev/null", "probe"}
	p, err := startOutsideProbe(argv, "http://127.0.0.1:1/metrics", 250_000_000, -1)
	if err != nil {
		t.Fatal(err)
	}
	res := &OverloadResult{MetricsScrapes: 10, MetricsMaxMs: 11}
	p.stop(res)
	if res.OutsideScrapes != 2 || res.OutsideFailures != 1 || res.OutsideMaxMs != 1500 {
		t.Fatalf("outside probe: %d scrapes, %d failed, max %.0f ms; want 2, 1, 1500", res.OutsideScrapes, res.OutsideFailures, res.OutsideMaxMs)
	}
	c := metricsCheck(res)
	if c.OK || !strings.Contains(c.What, "probe process") || !strings.Contains(c.Got, "from the generator's process") {
		t.Fatalf("check %+v: want failed on the outside probe, the generator's figure beside it", c)
	}
	if p, err := startOutsideProbe(nil, "", 0, -1); p != nil || err != nil {
		t.Fatalf("no command: %v %v, want no probe", p, err)
	}
	if c := metricsCheck(&OverloadResult{MetricsScrapes: 3, MetricsMaxMs: 20}); !c.OK {
		t.Fatalf("without an outside probe the generator's figure decides: %+v", c)
	}
}
