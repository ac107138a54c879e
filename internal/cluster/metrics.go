package cluster

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the cluster's Prometheus series (PROTOCOL.md §12). No label
// names a room or a node: ops are a fixed set.
type Metrics struct {
	nodes       prometheus.Gauge
	redisUp     prometheus.Gauge
	redisErrors *prometheus.CounterVec
	hosted      prometheus.Gauge
	takeovers   prometheus.Counter
	fenced      prometheus.Counter
}

// The store's operations, the label values of redis_errors_total{op}.
const (
	opPing      = "ping"
	opHeartbeat = "heartbeat"
	opNodes     = "nodes"
	opLeave     = "leave"
	opClaim     = "claim"
	opRenew     = "renew"
	opRelease   = "release"
	opSave      = "save"
	opLoad      = "load"
	opEnd       = "end"
	opOrphans   = "orphans"
	opHolder    = "holder"
)

var allOps = []string{opPing, opHeartbeat, opNodes, opLeave, opClaim, opRenew, opRelease, opSave, opLoad, opEnd, opOrphans, opHolder}

// NewMetrics creates the series and registers them with reg (nil: none).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	const ns = "seatsfu"
	m := &Metrics{
		nodes: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "nodes",
			Help: "Live nodes of the cluster as this node last saw them (1 without Redis)."}),
		redisUp: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "redis_up",
			Help: "1 while the last Redis operation succeeded, 0 after one failed to reach Redis."}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "redis_errors_total",
			Help: "Redis operations that failed to reach Redis or timed out, by operation."}, []string{"op"}),
		hosted: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "cluster_rooms_hosted",
			Help: "Rooms whose lease this node holds."}),
		takeovers: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "cluster_takeovers_total",
			Help: "Rooms this node took over after their hosting node stopped renewing the lease."}),
		fenced: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "cluster_fenced_total",
			Help: "Rooms this node stopped hosting because another node holds their lease."}),
	}
	m.nodes.Set(1)
	for _, op := range allOps {
		m.redisErrors.WithLabelValues(op) // expose zeroes so dashboards see the series
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.nodes, m.redisUp, m.redisErrors, m.hosted, m.takeovers, m.fenced} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
