package nettest

import (
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/seatsfu/seatsfu/internal/impair"
	"github.com/seatsfu/seatsfu/internal/metrictest"
	"github.com/seatsfu/seatsfu/sfu"
)

// Probing (PROTOCOL.md §9), end to end. Two viewers of one room, both with
// transport-cc and RTX, both capped at 1 Mbit/s until they sit on lower
// layers; then both caps lift at once. One viewer is probed, the other
// (sfu.NoProbing) can only climb by the estimator's growth and the
// allocator's trials. Same room, same publishers, same moment: the probed
// viewer must be back on high on every seat sooner.

// allHigh reports whether every seat's latest video of v came on high,
// after from.
func (v *adaptViewer) allHigh(from time.Time) bool {
	for k := range 3 {
		if l, at := v.lastLayer(k); l != 2 || at.Before(from) {
			return false
		}
	}
	return true
}

// backOnHigh is how long after from every seat of v had come back on high
// (each seat's first high packet since from; a seat may drop again after,
// as a loaded machine's stalls read as congestion), false while one has
// not.
func (v *adaptViewer) backOnHigh(from time.Time) (time.Duration, bool) {
	var last time.Duration
	for k := range 3 {
		i := slices.IndexFunc(v.layersSince(k, from), func(r layerAt) bool { return r.layer == 2 })
		if i < 0 {
			return 0, false
		}
		last = max(last, v.layersSince(k, from)[i].at.Sub(from))
	}
	return last, true
}

// probeCycles is how many cap-and-lift cycles the comparison sums: one
// cycle's recovery rides on where each viewer's loop was when the cap
// lifted (a probe judged across the lift waits its backoff; the control's
// growth starts from wherever its estimate sat), and in one CI run of 1
// cycle the tails met — probed 3.5 s, unprobed 4.5 s, against 2.2–3.2 and
// 4.2–9.1 in 12 runs alone.
const probeCycles = 2

func TestProbingRecoversFasterThanGrowth(t *testing.T) {
	r, reg := adaptRoom(t, sfu.Config{})
	probed, probedRelay := startAdaptViewerWith(t, r, "probed", leg{down: &impair.Config{}}, adaptClient{twcc: true, rtx: true})
	plain, plainRelay := startAdaptViewerWith(t, r, "plain", leg{down: &impair.Config{}}, adaptClient{twcc: true, rtx: true, opts: []sfu.PeerOption{sfu.NoProbing()}})
	var highSince time.Time
	var probedSum, plainSum time.Duration
	for cycle := range probeCycles {
		for _, v := range []*adaptViewer{probed, plain} {
			eventually(t, 10*time.Second, "every seat on high", func() bool { return v.allHigh(highSince) })
		}
		probedAt, plainAt := probeCycle(t, reg, cycle, probed, plain, probedRelay, plainRelay)
		probedSum += probedAt
		plainSum += plainAt
		highSince = time.Now()
	}
	// Measurably faster: by a second a cycle at least, not by jitter.
	if probedSum+probeCycles*time.Second > plainSum {
		t.Errorf("over %d cycles the probed viewer was back on high after %v, the unprobed after %v: probing did not help", probeCycles, probedSum, plainSum)
	}
}

// probeCycle caps both viewers' links until they sit below high, checks
// the probed one paid nothing for its failed probes, lifts both caps and
// returns how long each took to be back on high on every seat.
func probeCycle(t *testing.T, reg prometheus.Gatherer, cycle int, probed, plain *adaptViewer, probedRelay, plainRelay *impair.Relay) (probedAt, plainAt time.Duration) {
	t.Helper()
	capAt := time.Now()
	for _, rl := range []*impair.Relay{probedRelay, plainRelay} {
		if err := rl.SetConfig(impair.TargetToClient, impair.Config{RateBps: adaptCapBps, QueueBytes: adaptQueueBytes}); err != nil {
			t.Fatal(err)
		}
	}
	// Both settle below high on seats 1 and 2 (seat 0 first in line).
	for _, v := range []*adaptViewer{probed, plain} {
		eventually(t, 10*time.Second, "a capped viewer off high", func() bool {
			l1, at1 := v.lastLayer(1)
			l2, at2 := v.lastLayer(2)
			return l1 < 2 && l2 < 2 && at1.After(capAt) && at2.After(capAt)
		})
	}
	time.Sleep(time.Until(capAt.Add(8 * time.Second))) // settled, and the probes while capped fail
	// Probing a capped link costs the viewer nothing PROTOCOL.md §9
	// forbids: settled below high by 5 s, seat 0 frozen at most once.
	// Probes fail there, and a failed probe raises nothing.
	for k := range 3 {
		for _, run := range probed.layersSince(k, capAt.Add(5*time.Second)) {
			if run.layer == 2 {
				t.Errorf("cycle %d, probed viewer: seat %d on high %v after the cap", cycle, k, run.at.Sub(capAt))
			}
		}
	}
	// The unprobed viewer is the control: a stall of the whole box freezes
	// both, a freeze the probes caused only the probed one.
	if n, where := probed.freezes(0, capAt, time.Now()); n > 1 {
		if control, _ := plain.freezes(0, capAt, time.Now()); n > control {
			t.Errorf("cycle %d, probed viewer: seat 0 froze %d times under the cap (unprobed: %d): %s", cycle, n, control, where)
		}
	}
	failedWhileCapped := metrictest.Value(t, reg, "seatsfu_probes_total", "result", "failed")
	deliveredBefore := metrictest.Value(t, reg, "seatsfu_probes_total", "result", "delivered")

	liftAt := time.Now()
	for _, rl := range []*impair.Relay{probedRelay, plainRelay} {
		if err := rl.SetConfig(impair.TargetToClient, impair.Config{}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var probedOK, plainOK bool
		probedAt, probedOK = probed.backOnHigh(liftAt)
		plainAt, plainOK = plain.backOnHigh(liftAt)
		if probedOK && plainOK {
			break
		}
		if time.Now().After(deadline) {
			for k := range 3 {
				t.Logf("seat %d since the lift: probed %s; unprobed %s", k, runsString(probed.layersSince(k, liftAt), liftAt), runsString(plain.layersSince(k, liftAt), liftAt))
			}
			t.Fatalf("cycle %d, 20 s after the cap lifted: probed back on high %v, unprobed %v", cycle, probedOK, plainOK)
		}
		time.Sleep(50 * time.Millisecond)
	}
	delivered := metrictest.Value(t, reg, "seatsfu_probes_total", "result", "delivered") - deliveredBefore
	for k := range 3 {
		t.Logf("cycle %d, seat %d since the lift: probed %s; unprobed %s", cycle, k, runsString(probed.layersSince(k, liftAt), liftAt), runsString(plain.layersSince(k, liftAt), liftAt))
	}
	t.Logf("cycle %d, back on high after the cap lifted: probed %v, unprobed %v; probes delivered %.0f, failed %.0f in all (%.0f by the lift), padding %.0f bytes in all",
		cycle, probedAt.Round(100*time.Millisecond), plainAt.Round(100*time.Millisecond), delivered,
		metrictest.Value(t, reg, "seatsfu_probes_total", "result", "failed"), failedWhileCapped,
		metrictest.Value(t, reg, "seatsfu_probe_bytes_total"))
	if delivered == 0 {
		t.Errorf("cycle %d: no probe was delivered after the cap lifted", cycle)
	}
	return probedAt, plainAt
}

// Probes are bounded by the viewer's budget and by the node's: with 4
// kbit/s of probe budget (a 1 KB burst, a fifth of what one probe of a 1
// Mbit/s link needs), padding never exceeds the burst plus the rate over
// the run, and probes are cut when it runs out.
func TestProbesStayWithinTheBudget(t *testing.T) {
	const rateBps = 4_000
	for _, tc := range []struct {
		name  string
		adapt sfu.Adapt
	}{
		{"viewer", sfu.Adapt{ProbeViewerRate: rateBps}},
		{"node", sfu.Adapt{ProbeNodeRate: rateBps}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, reg := adaptRoom(t, sfu.Config{Adapt: tc.adapt})
			start := time.Now()
			v, relay := startAdaptViewerWith(t, r, "probed", leg{down: &impair.Config{}}, adaptClient{twcc: true, rtx: true})
			eventually(t, 10*time.Second, "every seat on high", func() bool { return v.allHigh(time.Time{}) })
			if err := relay.SetConfig(impair.TargetToClient, impair.Config{RateBps: adaptCapBps, QueueBytes: adaptQueueBytes}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(4 * time.Second)
			if err := relay.SetConfig(impair.TargetToClient, impair.Config{}); err != nil {
				t.Fatal(err)
			}
			eventually(t, 20*time.Second, "the viewer back on high", func() bool { return v.allHigh(time.Now().Add(-time.Second)) })
			sent := metrictest.Value(t, reg, "seatsfu_probe_bytes_total")
			allowed := rateBps / 8 * (2 + time.Since(start).Seconds()) // burst (2 s) + rate × elapsed
			t.Logf("padding %.0f bytes of %.0f allowed; probes cut %.0f", sent, allowed, metrictest.Value(t, reg, "seatsfu_probes_cut_total"))
			if sent == 0 {
				t.Fatal("no probes at all: the budget was not exercised")
			}
			if sent > allowed {
				t.Errorf("padding %.0f bytes over the budget's %.0f", sent, allowed)
			}
			if metrictest.Value(t, reg, "seatsfu_probes_cut_total") == 0 {
				t.Error("no probe was cut: the budget never bit")
			}
		})
	}
}

// A viewer that did not negotiate transport-cc has no estimate: nothing
// limits it and nothing is probed, however its link behaves.
func TestNoProbesWithoutTransportCC(t *testing.T) {
	r, reg := adaptRoom(t, sfu.Config{})
	v, relay := startAdaptViewerWith(t, r, "plain", leg{down: &impair.Config{}}, adaptClient{rtx: true})
	eventually(t, 10*time.Second, "every seat on high", func() bool { return v.allHigh(time.Time{}) })
	if err := relay.SetConfig(impair.TargetToClient, impair.Config{RateBps: adaptCapBps, QueueBytes: adaptQueueBytes}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err := relay.SetConfig(impair.TargetToClient, impair.Config{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "video flowing again", func() bool { return v.allHigh(time.Now().Add(-500 * time.Millisecond)) })
	if n := metrictest.Value(t, reg, "seatsfu_probe_bytes_total"); n != 0 {
		t.Errorf("%.0f bytes of padding to a viewer without transport-cc", n)
	}
}
