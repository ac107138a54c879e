package report

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/bench/load"
	"github.com/seatsfu/seatsfu/bench/stats"
)

func result(target string, v int, p95, loss float64) *load.Result {
	h := &stats.Histogram{}
	for i := 1; i <= 100; i++ {
		h.Record(time.Duration(i) * 100 * time.Microsecond)
	}
	return &load.Result{Scenario: "fanout", Target: target, Viewers: v, Connected: v, LatencyP95Ms: p95, LossPct: loss, WindowLossPct: loss, CPUPerPacketUs: 3, Latency: h}
}

func TestFindSaturation(t *testing.T) {
	rs := []*load.Result{result("x", 100, 5, 0), result("x", 50, 2, 0), result("x", 200, 60, 0), result("x", 400, 3, 0)}
	s := FindSaturation(rs)
	if s.Viewers != 100 || !strings.Contains(s.Reason, "V=200") {
		t.Fatalf("saturation %+v, want 100 (V=200's p95 60 ms > 2+50)", s)
	}
	lossy := FindSaturation([]*load.Result{result("x", 10, 1, 0.5)})
	if lossy.Viewers != 0 || !strings.Contains(lossy.Reason, "lost") {
		t.Fatalf("lossy first step: %+v", lossy)
	}
	if all := FindSaturation(rs[:2]); all.Viewers != 100 || all.Reason != "every step held" {
		t.Fatalf("all held: %+v", all)
	}
	// Noise is reported, never a reason to skip a step: a busy machine's
	// V=200 still ends the run.
	rs[2].OtherServerCorePct, rs[2].OtherCPUPct = 90, 150
	if s := FindSaturation(rs); s.Viewers != 100 {
		t.Fatalf("a noisy step was skipped: %+v", s)
	}
}

func noisy(r *load.Result) *load.Result {
	r.OtherServerCorePct, r.OtherCPUPct, r.OtherBusiest = 7, 12, []string{"go 9%", "cc1 2%"}
	r.MetricsScrapes, r.MetricsFailures, r.MetricsP95Ms, r.MetricsMaxMs = 20, 1, 3, 1200
	return r
}

func unpinned(r *load.Result) *load.Result {
	r.OtherServerCorePct = -1
	return r
}

// With repeats, a step counts once per target, and the CPU line joins
// each step's median.
func TestPlotRepeats(t *testing.T) {
	a1, a2, a3 := result("a", 10, 1, 0), result("a", 10, 1, 0), result("a", 10, 1, 0)
	a1.CPUPerPacketUs, a2.CPUPerPacketUs, a3.CPUPerPacketUs = 5, 1, 3
	b := result("b", 20, 1, 0)
	rs := []*load.Result{a1, a2, a3, result("a", 20, 1, 5)}
	// a held V=10 in two repeats, b held only V=20: no step is common.
	if got := commonHeldViewers(map[string][]*load.Result{"a": {a1, a2, rs[3]}, "b": {b}}); got != 0 {
		t.Fatalf("held by every target at V=%d; a held only 10 (twice), b only 20", got)
	}
	m := medians(rs)
	if len(m) != 2 || m[0].X != 10 || m[0].Y != 3 || m[1].X != 20 {
		t.Fatalf("medians %v", m)
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	run := &Run{
		Command: "seatbench fanout", Started: time.Now(), CPUs: 2, Pinning: "none",
		Results:    []*load.Result{noisy(result("raw", 10, 1, 0)), result("raw", 20, 1, 0), unpinned(result("seatsfu", 10, 2, 0)), {Scenario: "handover", Target: "seatsfu", HandoverCount: 3, HandoverP50Ms: 20, Errors: []string{"boom"}}},
		Ratios:     []Ratio{{Name: "seatsfu cpu/pkt ÷ raw", Viewers: 10, Values: []float64{1.5, 1.25, 1.75}, Noise: []float64{3, -1, 40}}},
		Saturation: map[string]Saturation{"raw": {Viewers: 20, Reason: "every step held"}},
	}
	md, err := Write(dir, run)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| fanout | raw | 10 |", "| handover | seatsfu | 0 | 0 | – | – |", "| seatsfu cpu/pkt ÷ raw | 10 | 1.50 (3), 1.25, 1.75 (40) | 1.25 – 1.75 |", "| raw | 20 | every step held |", "| 7 / 12 (go 9%, cc1 2%) |", "| – / 0 |", "| 3 / 1200 (1 of 20) |", "boom"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	// Every table row has as many cells as the header.
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| scenario") {
			header := strings.Count(line, "|")
			for _, l := range strings.Split(md, "\n") {
				if strings.HasPrefix(l, "| fanout") || strings.HasPrefix(l, "|---|---|---:") {
					if strings.Count(l, "|") != header {
						t.Errorf("row has %d bars, header %d: %s", strings.Count(l, "|"), header, l)
					}
				}
			}
		}
	}
	js, err := os.ReadFile(filepath.Join(dir, "run.json"))
	if err != nil || !strings.Contains(string(js), `"cpuMicrosPerPacket": 3`) {
		t.Fatalf("run.json: %v\n%s", err, js)
	}
	f, err := os.Open(filepath.Join(dir, "run.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() < 600 || b.Dy() < 200 {
		t.Fatalf("plot is %v", b)
	}
}
