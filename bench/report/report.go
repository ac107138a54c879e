// Package report writes a benchmark run as JSON, a Markdown table and a PNG
// plot (latency CDF per target, CPU per packet against viewers).
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/seatsfu/seatsfu/bench/load"
)

// Run is one invocation of seatbench: its command line, machine facts,
// every result, the ratios and the saturation points.
type Run struct {
	Command    string                `json:"command"`
	Started    time.Time             `json:"started"`
	CPUs       int                   `json:"cpus"`
	Pinning    string                `json:"pinning"`
	Notes      []string              `json:"notes,omitempty"`
	Results    []*load.Result        `json:"results"`
	Ratios     []Ratio               `json:"ratios,omitempty"`
	Saturation map[string]Saturation `json:"saturation,omitempty"`
}

// Ratio is one comparison at one viewer count, measured once per repeat:
// each value is the ratio of two targets' figures from the same repeat of
// the plan (their windows back to back), never a mix of runs.
type Ratio struct {
	Name    string    `json:"name"`
	Viewers int       `json:"viewers"`
	Values  []float64 `json:"values"`
	// Noise is, per value, the larger of the two windows' other-process
	// CPU on the server's core (percent; -1 unknown).
	Noise []float64 `json:"otherCpuPercentOnServerCore"`
}

// Spread is the smallest and largest value.
func (r Ratio) Spread() (lo, hi float64) {
	for i, v := range r.Values {
		if i == 0 || v < lo {
			lo = v
		}
		if i == 0 || v > hi {
			hi = v
		}
	}
	return lo, hi
}

// Saturation is the highest viewer count a target held within the limits.
type Saturation struct {
	Viewers int    `json:"viewers"` // 0: not even the first step held
	Rule    string `json:"rule"`
	// Reason says why the next step failed, or that no step did.
	Reason string `json:"reason"`
}

// SaturationRule: steady-state (measuring-window) loss ≤ 0.1 % and p95 latency ≤ the target's p95 at its
// smallest step + 50 ms.
const SaturationRule = "measuring-window loss ≤ 0.1 % and p95 ≤ (p95 at the smallest V) + 50 ms"

// FindSaturation steps through one target's fan-out results by viewers.
func FindSaturation(results []*load.Result) Saturation {
	rs := append([]*load.Result(nil), results...)
	sort.Slice(rs, func(i, j int) bool { return rs[i].Viewers < rs[j].Viewers })
	s := Saturation{Rule: SaturationRule, Reason: "every step held"}
	if len(rs) == 0 {
		s.Reason = "no steps"
		return s
	}
	limit := rs[0].LatencyP95Ms + 50
	for _, r := range rs {
		switch {
		case r.WindowLossPct > 0.1:
			s.Reason = fmt.Sprintf("V=%d lost %.2f %%", r.Viewers, r.WindowLossPct)
			return s
		case r.LatencyP95Ms > limit:
			s.Reason = fmt.Sprintf("V=%d p95 %.1f ms > %.1f ms", r.Viewers, r.LatencyP95Ms, limit)
			return s
		case r.Connected < r.Viewers:
			s.Reason = fmt.Sprintf("V=%d: only %d viewers connected", r.Viewers, r.Connected)
			return s
		}
		s.Viewers = r.Viewers
	}
	return s
}

// Write stores run.json, run.md and run.png in dir.
func Write(dir string, run *Run) (md string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	js, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "run.json"), append(js, '\n'), 0o644); err != nil {
		return "", err
	}
	var b strings.Builder
	Markdown(&b, run)
	md = b.String()
	if err := os.WriteFile(filepath.Join(dir, "run.md"), []byte(md), 0o644); err != nil {
		return "", err
	}
	if err := Plot(filepath.Join(dir, "run.png"), run); err != nil {
		return md, fmt.Errorf("report: plot: %w", err)
	}
	return md, nil
}

// row is one result's table cells. Handover and churn do not measure
// throughput (their windows are shaped by the seat operations), so those
// cells show a dash rather than a misleading zero.
func row(r *load.Result) []string {
	dash := "–"
	f := func(format string, v ...any) string { return fmt.Sprintf(format, v...) }
	thr := r.Scenario == "fanout" || r.Scenario == "join"
	pick := func(ok bool, s string) string {
		if ok {
			return s
		}
		return dash
	}
	target := r.Target
	if r.Repeat > 0 {
		target = f("%s #%d", r.Target, r.Repeat)
	}
	return []string{
		r.Scenario, target, f("%d", r.Connected), f("%d", r.Guests),
		pick(thr, f("%.0f (%.0f)", r.ForwardedPPS, r.ExpectedPPS)),
		pick(thr, f("%.1f", r.ForwardedMbps)),
		pick(thr || r.ServerCPUPct > 0, f("%.1f", r.ServerCPUPct)),
		pick(thr, f("%.0f", r.GeneratorCPUPct)),
		pick(thr, softirqCell(r)),
		pick(thr, r.OtherSummary()),
		pick(thr, f("%.2f", r.CPUPerPacketUs)),
		pick(thr, f("%.0f", r.PPSPerCore)),
		pick(thr, f("%.0f", r.RSSPerViewerBytes/1024)),
		pick(thr, f("%.2f", r.GoroutinesPerViewer)),
		f("%.2f / %.2f / %.2f", r.LatencyP50Ms, r.LatencyP95Ms, r.LatencyP99Ms),
		f("%.3f (%.3f) [%.2f/%.2f]", r.LossPct, r.UnrecoveredPct, r.LossVideoPct, r.LossAudioPct),
		pick(thr, f("%.3f", r.WindowLossPct)),
		pick(thr, f("%.0f / %d / %d (%d)", r.ServerDrops, r.KernelDrops, r.SocketDrops, r.ServerSocketDrops)),
		pick(thr, f("%.1f", r.ForcedKeyframesPerSec)),
		f("%.0f / %.0f%s", r.JoinKeyframeP50Ms, r.JoinKeyframeP95Ms, joinDrops(r)),
		pick(r.HandoverCount > 0, f("%.0f / %.0f / %.0f", r.HandoverP50Ms, r.HandoverP95Ms, r.HandoverMaxMs)),
		pick(r.SeatOps > 0, f("%.1f / %.1f", r.SeatOpP50Ms, r.SeatOpP95Ms)),
		pick(r.MetricsScrapes > 0, f("%.0f / %.0f (%d of %d)", r.MetricsP95Ms, r.MetricsMaxMs, r.MetricsFailures, r.MetricsScrapes)),
	}
}

func joinDrops(r *load.Result) string {
	if r.Scenario != "fanout" && r.Scenario != "join" {
		return ""
	}
	return fmt.Sprintf(" (%d)", r.JoinSocketDrops)
}

// Markdown writes the run's tables.
func Markdown(w io.Writer, run *Run) {
	fmt.Fprintf(w, "# seatbench run\n\n`%s`\n\nStarted %s on %d CPUs. %s\n\n", run.Command, run.Started.UTC().Format(time.RFC3339), run.CPUs, run.Pinning)
	for _, n := range run.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	if len(run.Notes) > 0 {
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "| scenario | target | V | guests | fwd pkt/s (expected) | Mbit/s | server CPU % | generator CPU % | softirq %: all (server's core) | other processes' CPU %: server's core / all (busiest) | µs CPU/pkt | pkt/s per core | RSS/viewer KiB | goroutines/viewer | lat p50/p95/p99 ms | loss % (unrecov.) [video/audio] | window loss % | drops queue/backlog/rcvbuf (server socket) | PLI keyframes/s | join→key p50/p95 ms (rcvbuf drops while joining) | handover p50/p95/max ms | seat apply→accept p50/p95 ms | /metrics p95 / max ms (failed of scrapes) |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range run.Results {
		fmt.Fprintf(w, "| %s |\n", strings.Join(row(r), " | "))
	}
	windowTable(w, run)
	if len(run.Ratios) > 0 {
		fmt.Fprintln(w, "\n| ratio | V | each repeat (other CPU % on the server's core, worse window) | min – max |\n|---|---:|---|---:|")
		for _, r := range run.Ratios {
			each := make([]string, len(r.Values))
			for i, v := range r.Values {
				each[i] = fmt.Sprintf("%.2f", v)
				if i < len(r.Noise) && r.Noise[i] >= 0 {
					each[i] += fmt.Sprintf(" (%.0f)", r.Noise[i])
				}
			}
			lo, hi := r.Spread()
			fmt.Fprintf(w, "| %s | %d | %s | %.2f – %.2f |\n", r.Name, r.Viewers, strings.Join(each, ", "), lo, hi)
		}
	}
	if len(run.Saturation) > 0 {
		fmt.Fprintf(w, "\nSaturation (%s):\n\n| target | highest V held | why the next step failed |\n|---|---:|---|\n", SaturationRule)
		keys := make([]string, 0, len(run.Saturation))
		for k := range run.Saturation {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s := run.Saturation[k]
			fmt.Fprintf(w, "| %s | %d | %s |\n", k, s.Viewers, s.Reason)
		}
	}
	var errs []string
	for _, r := range run.Results {
		for _, e := range r.Errors {
			errs = append(errs, fmt.Sprintf("%s/%s V=%d: %s", r.Scenario, r.Target, r.Viewers, e))
		}
	}
	if len(errs) > 0 {
		fmt.Fprintln(w, "\nErrors:")
		for _, e := range errs {
			fmt.Fprintf(w, "- %s\n", e)
		}
	}
}

// softirqCell is the machine's softirq time and, when known, the part of
// it on the server's core.
func softirqCell(r *load.Result) string {
	if r.ServerCoreSoftIRQPct < 0 {
		return fmt.Sprintf("%.0f", r.SoftIRQPct)
	}
	return fmt.Sprintf("%.0f (%.0f)", r.SoftIRQPct, r.ServerCoreSoftIRQPct)
}
