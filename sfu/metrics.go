package sfu

import "github.com/prometheus/client_golang/prometheus"

// metrics are the media metrics of PROTOCOL.md §7. They carry no per-room or
// per-user labels: a label per room would grow without bound.
type metrics struct {
	rooms               prometheus.Gauge
	seatsOccupied       prometheus.Gauge
	publishRejected     *prometheus.CounterVec
	forwardedPackets    [2]prometheus.Counter // by kindIndex
	forwardedBytes      [2]prometheus.Counter
	receivedPackets     [2]prometheus.Counter
	droppedPackets      [2]prometheus.Counter
	nacksReceived       prometheus.Counter
	retransmitted       prometheus.Counter
	keyframeRequests    prometheus.Counter
	turnAllocations     *prometheus.CounterVec // by the client's transport to the TURN server
	turnRefused         prometheus.Counter     // allocations over a user's quota
	layerSwitches       [2]prometheus.Counter  // by switchUp / switchDown
	pausedSlots         prometheus.Gauge
	subscriberBandwidth prometheus.Histogram
	shed                [shedKinds]prometheus.Counter // overload.go
	egressRate          prometheus.Gauge
	ov                  overloadMetrics // overload_metrics.go
	mediaLimit          *prometheus.GaugeVec
	probe               probeMetrics // probe.go
}

// Directions of layer_switches_total.
const (
	switchUp   = 0
	switchDown = 1
)

// kindIndex numbers media kinds for arrays on the hot path.
const (
	audioIdx = 0
	videoIdx = 1
)

var kindNames = [2]string{"audio", "video"}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns = "seatsfu"
	m := &metrics{
		rooms:         prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "rooms", Help: "Open rooms."}),
		seatsOccupied: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "seats_occupied", Help: "Occupied seats, the owner's included."}),
		publishRejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "publish_rejected_total",
			Help: "Publish offers refused, by reason."}, []string{"reason"}),
		nacksReceived: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "nacks_received_total",
			Help: "Packets viewers asked to be resent (one per sequence number)."}),
		retransmitted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "retransmitted_packets_total",
			Help: "Packets resent to viewers from the shared cache."}),
		keyframeRequests: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "keyframe_requests_total",
			Help: "PLIs sent to publishers (after throttling)."}),
		turnRefused: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "turn_allocations_refused_total",
			Help: "Relay allocations the embedded TURN server refused: the user held its --turn-max-allocations."}),
		turnAllocations: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "turn_allocations_total",
			Help: "Relay allocations the embedded TURN server made, by the client's transport to it."}, []string{"transport"}),
	}
	m.pausedSlots = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "paused_slots",
		Help: "Viewer video slots whose seat shows video the viewer does not get (asked for off, or no bandwidth for the lowest layer)."})
	m.subscriberBandwidth = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "subscriber_bandwidth_bits",
		Help:    "Subscribers' estimated downlinks (bit/s), observed at each allocation.",
		Buckets: prometheus.ExponentialBuckets(125_000, 2, 9)}) // 125 kbit/s .. 32 Mbit/s
	switches := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "layer_switches_total",
		Help: "Simulcast layer switches of viewer slots, by direction."}, []string{"direction"})
	m.layerSwitches[switchUp] = switches.WithLabelValues("up")
	m.layerSwitches[switchDown] = switches.WithLabelValues("down")
	shed := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "shed_total",
		Help: "Work the media server refused over its overload caps: new subscribers, retransmissions, keyframe requests."}, []string{"what"})
	for i, w := range shedNames {
		m.shed[i] = shed.WithLabelValues(w)
	}
	m.egressRate = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "egress_packets_per_second",
		Help: "Packets forwarded and retransmitted per second, measured every second."})
	m.mediaLimit = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "media_limit",
		Help: "The media server's overload caps (0 = none), by limit."}, []string{"limit"})
	fwdP := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "forwarded_packets_total", Help: "RTP packets sent to viewers."}, []string{"kind"})
	fwdB := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "forwarded_bytes_total", Help: "RTP payload+header bytes sent to viewers."}, []string{"kind"})
	recv := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "received_packets_total", Help: "RTP packets received from publishers."}, []string{"kind"})
	drop := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "dropped_packets_total", Help: "Packets dropped for a viewer whose queue was full."}, []string{"kind"})
	for i, k := range kindNames {
		m.forwardedPackets[i] = fwdP.WithLabelValues(k)
		m.forwardedBytes[i] = fwdB.WithLabelValues(k)
		m.receivedPackets[i] = recv.WithLabelValues(k)
		m.droppedPackets[i] = drop.WithLabelValues(k)
	}
	for _, t := range []string{"udp", "tcp"} {
		m.turnAllocations.WithLabelValues(t)
	}
	for _, r := range []string{"publish_forbidden", "bad_sdp", "unsupported_codec"} {
		m.publishRejected.WithLabelValues(r) // expose zeroes so dashboards see the series
	}
	var probeCollectors []prometheus.Collector
	m.probe, probeCollectors = newProbeMetrics(ns)
	var ovCollectors []prometheus.Collector
	m.ov, ovCollectors = newOverloadMetrics(ns)
	probeCollectors = append(probeCollectors, ovCollectors...)
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.rooms, m.seatsOccupied, m.publishRejected, fwdP, fwdB, recv, drop,
		m.nacksReceived, m.retransmitted, m.keyframeRequests, m.turnAllocations, m.turnRefused, m.pausedSlots, switches, m.subscriberBandwidth,
		shed, m.egressRate, m.mediaLimit} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, c := range probeCollectors {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// fwdTally counts a pool writer's forwarded packets between its sends, so
// the shared counters are bumped once a batch rather than once a packet
// per viewer from every writer (issue 16).
type fwdTally struct {
	m              *metrics
	packets, bytes [2]uint64 // by kindIndex
}

func (t *fwdTally) flush() {
	if t.m == nil {
		return
	}
	for k := range t.packets {
		if t.packets[k] > 0 {
			t.m.forwardedPackets[k].Add(float64(t.packets[k]))
			t.m.forwardedBytes[k].Add(float64(t.bytes[k]))
			t.packets[k], t.bytes[k] = 0, 0
		}
	}
	t.m = nil
}

func (t *fwdTally) pending() bool { return t.m != nil }

// countForwarded counts one packet of kind, size bytes, sent to v: into its
// writer's tally during a pool writer's turn, at once otherwise.
func (v *viewer) countForwarded(kind, size int) {
	m := v.room.s.m
	t := v.tally
	if t == nil {
		m.forwardedPackets[kind].Inc()
		m.forwardedBytes[kind].Add(float64(size))
		return
	}
	if t.m != m {
		t.flush()
		t.m = m
	}
	t.packets[kind]++
	t.bytes[kind] += uint64(size)
}
