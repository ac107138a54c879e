package webhook

import "github.com/prometheus/client_golang/prometheus"

// metrics are the deliveries' share of the server's metrics. No URL, room
// or event id labels: receivers are few but unbounded in principle.
type metrics struct {
	emitted   *prometheus.CounterVec // by event name
	delivered prometheus.Counter
	attempts  *prometheus.CounterVec // by result
	dropped   *prometheus.CounterVec // by reason
	queued    prometheus.Gauge
	latency   prometheus.Histogram
}

// Attempt results and drop reasons, the label values.
const (
	resultOK      = "ok"
	resultStatus  = "http_error"
	resultNetwork = "network_error"

	dropQueueFull = "queue_full"
	dropGaveUp    = "gave_up"
	dropShutdown  = "shutdown"
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		emitted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seatsfu_webhook_events_total",
			Help: "Webhook events queued for delivery, per receiver, by event name.",
		}, []string{"event"}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "seatsfu_webhook_delivered_total",
			Help: "Webhook events a receiver acknowledged with a 2xx.",
		}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seatsfu_webhook_attempts_total",
			Help: "Webhook POSTs by result: ok, http_error (non-2xx) or network_error.",
		}, []string{"result"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seatsfu_webhook_dropped_total",
			Help: "Webhook events never delivered: queue_full, gave_up (retried past the horizon) or shutdown.",
		}, []string{"reason"}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "seatsfu_webhook_queue_events",
			Help: "Webhook events waiting for delivery, over all receivers.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "seatsfu_webhook_delivery_seconds",
			Help:    "Time from an event to its acknowledgement, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 11),
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.emitted, m.delivered, m.attempts, m.dropped, m.queued, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, r := range []string{resultOK, resultStatus, resultNetwork} {
		m.attempts.WithLabelValues(r)
	}
	for _, r := range []string{dropQueueFull, dropGaveUp, dropShutdown} {
		m.dropped.WithLabelValues(r)
	}
	return m, nil
}
