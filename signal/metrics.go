package signal

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatsfu/seatsfu/seat"
)

// metrics are the edge's share of PROTOCOL.md §7. Labels are bounded sets:
// roles, request kinds/outcomes, method names (unknown ones bucketed) and
// error reasons. Never a room or user id.
type metrics struct {
	participants   *prometheus.GaugeVec
	seatRequests   *prometheus.CounterVec
	signalRequests *prometheus.CounterVec
	joinDuration   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		participants: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "seatsfu_participants",
			Help: "Members with a live signalling socket, by role.",
		}, []string{"role"}),
		seatRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seatsfu_seat_requests_total",
			Help: "Seat applications and invitations that ended, by kind and outcome.",
		}, []string{"kind", "outcome"}),
		signalRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seatsfu_signal_requests_total",
			Help: "Signalling requests by method and outcome (ok or the error reason).",
		}, []string{"method", "outcome"}),
		joinDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "seatsfu_join_duration_seconds",
			Help:    "Time to answer a successful room.join.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	for _, c := range []prometheus.Collector{m.participants, m.seatRequests, m.signalRequests, m.joinDuration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Show every role from the start, so dashboards see 0 rather than nothing.
	for _, r := range []seat.Role{seat.RoleOwner, seat.RoleAdmin, seat.RoleAudience} {
		m.participants.WithLabelValues(string(r))
	}
	return m, nil
}

// methodLabel keeps the method label's cardinality bounded: only the
// contract's method names pass through.
func methodLabel(method string) string {
	if _, ok := methods[method]; ok {
		return method
	}
	return "unknown"
}
