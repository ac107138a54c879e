package nodelink

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the links' Prometheus metrics (PROTOCOL.md §7, §12); a nil
// *Metrics counts nothing.
type Metrics struct {
	up     prometheus.Gauge
	frames *prometheus.CounterVec
	drops  prometheus.Counter
}

// NewMetrics registers the link metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		up: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "seatsfu", Name: "cluster_links",
			Help: "Node-to-node links open on this node (one per pair of nodes, dialled or accepted)."}),
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "seatsfu", Name: "cluster_link_frames_total",
			Help: "Frames carried by node-to-node links, by direction (in, out)."}, []string{"direction"}),
		drops: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "seatsfu", Name: "cluster_link_drops_total",
			Help: "Node-to-node links that ended on an error (peer gone, network, a peer too slow), not closed on purpose."}),
	}
	for _, c := range []prometheus.Collector{m.up, m.frames, m.drops} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.frames.WithLabelValues("in")
	m.frames.WithLabelValues("out")
	return m, nil
}

func (m *Metrics) opened() {
	if m != nil {
		m.up.Inc()
	}
}

func (m *Metrics) closed(err error) {
	if m == nil {
		return
	}
	m.up.Dec()
	if !errors.Is(err, ErrClosed) {
		m.drops.Inc()
	}
}

func (m *Metrics) frame(direction string) {
	if m != nil {
		m.frames.WithLabelValues(direction).Inc()
	}
}
