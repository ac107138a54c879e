package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/seatsfu/seatsfu/bench/load"
)

// scenarioAlternating is the plan's job for one fan-out step of -alternate:
// every target but livekit set up at once and measured in turns
// (bench/load/alternate.go). Its results are ordinary fan-out results.
const scenarioAlternating = "fanout-alternating"

// runAlternating starts a server for each of j's targets, each pinned to
// the server core like any other, and measures them in alternating
// slices. The servers are stopped before it returns.
func (b *bench) runAlternating(ctx context.Context, j job, seatsfuBin string) ([]*load.Result, error) {
	o := b.o
	var ts []load.Target
	for _, name := range j.targets {
		s, err := b.start(ctx, name, seatsfuBin)
		if err != nil {
			return nil, err
		}
		defer s.p.Stop()
		t, err := s.open(ctx, fmt.Sprintf("fanout-%d", j.viewers), o.guests+1)
		if err != nil {
			return nil, err
		}
		defer t.Close()
		ts = append(ts, t)
	}
	rs, err := load.FanoutAlternating(ctx, ts, load.AltConfig{
		Config: load.Config{Viewers: j.viewers, Guests: o.guests, Warmup: o.warmup, Progress: b.progress, ViewerNACK: o.viewerNACK},
		Slice:  o.alternate, Rounds: o.slices, Settle: altSettle,
	})
	for _, r := range rs[min(1, len(rs)):] {
		if n := sliceRatios(rs[0], r); n != "" {
			b.run.Notes = append(b.run.Notes, fmt.Sprintf("fanout V=%d, alternating: %s ÷ %s CPU/pkt round by round: %s", j.viewers, rs[0].Target, r.Target, n))
		}
	}
	return rs, err
}

// sliceRatios is a's CPU per packet over b's, round by round ("" when a
// round is missing): the spread within one run.
func sliceRatios(a, b *load.Result) string {
	n := min(len(a.SliceCPUPerPacketUs), len(b.SliceCPUPerPacketUs))
	var out []string
	for i := range n {
		if d := b.SliceCPUPerPacketUs[i]; d > 0 {
			out = append(out, fmt.Sprintf("%.2f", a.SliceCPUPerPacketUs[i]/d))
		}
	}
	return strings.Join(out, ", ")
}

// altSettle is how long a resumed target sends before its slice opens: the
// other targets' last frames are delivered by then, and its own first ones
// are out of the slice.
const altSettle = 300 * time.Millisecond
