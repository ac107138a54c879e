package sfu

import "github.com/prometheus/client_golang/prometheus"

// overloadMetrics are what the node's burst defences (overload.go's
// admission price, pace.go's replay budget) expose beside shed_total: when
// they act and how hard.
type overloadMetrics struct {
	// viewerPrice is what admission charges one more viewer, pkt/s.
	viewerPrice prometheus.Gauge
	// behind is 1 for behindHold after a window whose writers dropped more
	// than behindShare of what viewers were due: admission refuses everyone.
	behind prometheus.Gauge
	// ceiling is the learned ceiling (overload.go), 0 when none.
	ceiling prometheus.Gauge
	// cpuShare is the process's CPU over the last second, a share of
	// the node's cores; cpuHot is 1 after a second over the CPU rule's
	// share (overload.go).
	cpuShare, cpuHot prometheus.Gauge
	// linkDropped counts the drops of viewers whose own link held their
	// writer (viewer.link): in dropped_packets_total too, but not
	// the node falling behind.
	linkDropped prometheus.Counter
	// replaysActive and replaysWaiting are the node's keyframe-group
	// replays under way and waiting for the replay budget; replayWait is
	// how long a replay waited to start.
	replaysActive, replaysWaiting prometheus.Gauge
	replayWait                    prometheus.Histogram
}

func newOverloadMetrics(ns string) (overloadMetrics, []prometheus.Collector) {
	m := overloadMetrics{
		viewerPrice: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "egress_viewer_price_packets_per_second",
			Help: "What egress-budget admission charges one more viewer, packets per second (0: no budget or not measured yet)."}),
		behind: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "egress_behind",
			Help: "1 for 3 s after a second in which the node's writers dropped over 1 % of what viewers were due: new subscribers are refused whatever the budget says."}),
		ceiling: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "egress_ceiling_packets_per_second",
			Help: "What the node sent in its last second over 1 % dropped, raised by each clean second (with a budget 2 %; with none, to 2 % or a viewer over its typical sent rate): admission holds under it as well as any egress budget (0: none)."}),
		cpuShare: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "egress_cpu_share",
			Help: "The node process's CPU over the last second, as a share of its cores (GOMAXPROCS)."}),
		cpuHot: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "egress_cpu_hot",
			Help: "1 after a second, its viewers due --egress-floor pkt/s or more and no egress budget, in which the node process typically (median of 5 s) used --egress-cpu percent of its cores or more: the egress ceiling was set at what it typically sends."}),
		linkDropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "dropped_packets_slow_link_total",
			Help: "Of dropped_packets_total, those of viewers whose own link held their writer (a TCP write that waited): not counted toward egress_behind."}),
		replaysActive: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "replays_active",
			Help: "Keyframe-group replays to joining viewers under way."}),
		replaysWaiting: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "replays_waiting",
			Help: "Keyframe-group replays waiting for the node's replay budget (--replay-budget)."}),
		replayWait: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "replay_wait_seconds",
			Help:    "How long a keyframe-group replay waited for the node's replay budget before it started.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10}}),
	}
	return m, []prometheus.Collector{m.viewerPrice, m.behind, m.ceiling, m.cpuShare, m.cpuHot, m.linkDropped, m.replaysActive, m.replaysWaiting, m.replayWait}
}
