package rtcconn

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts what the viewer transport does, for the node (no
// per-room or per-viewer labels).
type Metrics struct {
	Viewers       prometheus.Gauge       // transports open
	Checks        *prometheus.CounterVec // STUN binding requests by result
	ConsentLost   prometheus.Counter
	Handshakes    *prometheus.CounterVec // DTLS handshakes by result
	DTLSActive    prometheus.Gauge       // handshakes whose goroutines still run
	FlightReplays prometheus.Counter
	PionDrops     prometheus.Counter
	SRTCPFailures prometheus.Counter
	TCPDrops      prometheus.Counter // packets an ICE-TCP write dropped whole

	// The handshake gate's (gate.go).
	HandshakesRunning, HandshakesWaiting, HandshakeLimit prometheus.Gauge
	HandshakeWait                                        prometheus.Histogram
	HandshakesDeferred                                   prometheus.Counter
}

// NewMetrics makes unregistered metrics; Collectors lists them.
func NewMetrics() *Metrics {
	const ns, sub = "seatsfu", "viewer_transport"
	m := &Metrics{
		Viewers: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "own_viewers",
			Help: "Viewer connections on the SFU's own transport (not a Pion PeerConnection)."}),
		Checks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "stun_requests_total",
			Help: "STUN binding requests to viewers' ufrags, by result: ok, or refused (bad integrity, fingerprint or username)."},
			[]string{"result"}),
		ConsentLost: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "consent_lost_total",
			Help: "Viewers closed because their consent checks went unanswered (RFC 7675) or ICE never completed."}),
		Handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "dtls_handshakes_total",
			Help: "DTLS handshakes of viewers on the own transport, by result: ok or failed."}, []string{"result"}),
		DTLSActive: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "dtls_active",
			Help: "Viewers whose DTLS connection (two goroutines) is still up: handshaking, or not yet proven finished."}),
		FlightReplays: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "dtls_flight_replays_total",
			Help: "Final DTLS flights resent to a viewer that retransmitted after the SFU's DTLS was torn down."}),
		PionDrops: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "pion_queue_drops_total",
			Help: "Datagrams for Pion's UDP mux (publishers) dropped because its bounded queue was full."}),
		SRTCPFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "srtcp_failures_total",
			Help: "SRTCP packets from viewers that failed authentication or decryption (dropped)."}),
		TCPDrops: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "tcp_dropped_packets_total",
			Help: "Packets to viewers on ICE-TCP dropped whole: the write failed, or the viewer's socket took none of it within 200 ms."}),
	}
	gateMetrics(m)
	return m
}

// Collectors is every metric, to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Viewers, m.Checks, m.ConsentLost, m.Handshakes, m.DTLSActive, m.FlightReplays, m.PionDrops, m.SRTCPFailures, m.TCPDrops,
		m.HandshakesRunning, m.HandshakesWaiting, m.HandshakeLimit, m.HandshakeWait, m.HandshakesDeferred}
}
