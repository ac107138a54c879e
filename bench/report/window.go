package report

import (
	"fmt"
	"io"
	"strings"
)

// windowTable writes, per fan-out window, the speed probe on the server's
// core (proc.SpeedProbe), the kernel's share of the server's CPU and, for the results that carry them (seatsfu's), the
// server's own counters over the window: what a dear window spent its CPU
// on besides forwarding, and how well its sends were batched (issue 16).
func windowTable(w io.Writer, run *Run) {
	var rows []string
	for _, r := range run.Results {
		if r.Scenario != "fanout" || r.Seconds <= 0 {
			continue
		}
		target := r.Target
		if r.Repeat > 0 {
			target = fmt.Sprintf("%s #%d", r.Target, r.Repeat)
		}
		head := fmt.Sprintf("| %s | %s | %d | %.2f | %.0f | %.0f |", r.Scenario, target, r.Connected, r.CPUPerPacketUs, r.SpeedProbeUs, r.ServerKernelPct)
		sw := r.Window
		if sw == nil { // a baseline or LiveKit: no counters of ours
			rows = append(rows, head+strings.Repeat(" – |", 9))
			continue
		}
		per := func(v float64) string { return fmt.Sprintf("%.1f", v/r.Seconds) }
		rows = append(rows, head+fmt.Sprintf(" %s / %.1f | %.0f | %.2f | %.1f | %.0f | %s | %s | %s | %.0f (%.0f) |",
			per(sw.GCCycles), sw.GCPauseMs, sw.HeapGrowthBytes/1024,
			sw.PerMessage(), sw.PerSend(), sw.PionPackets,
			per(sw.Retransmitted), per(sw.KeyframeRequests), per(sw.Probes), sw.ReplaysAtStart, r.JoinWaitMs))
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprint(w, "\nThe server's own counters over each measuring window (/metrics scraped just outside it):\n\n")
	fmt.Fprintln(w, "| scenario | target | V | µs CPU/pkt | speed probe on the server's core, µs (lower: faster machine) | kernel % of server CPU | GC cycles/s / pause ms | heap growth KiB | datagrams per sendmmsg entry | datagrams per sendmmsg | packets via Pion | retransmitted/s | keyframe requests/s | probes/s | replays running at the start (after waiting, ms) |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	fmt.Fprintln(w, strings.Join(rows, "\n"))
}
