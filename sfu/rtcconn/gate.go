package rtcconn

import (
	"container/list"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The handshake gate: at most a few viewers' DTLS handshakes run at once
// on the node; the rest wait their turn in a bounded FIFO.
//
// A join burst — hundreds of viewers arriving together — makes as many
// handshakes runnable at once, each an ECDSA signature, an ECDHE, a
// certificate to parse and verify, and the dtls.Conn goroutines around
// them. On a node pinned to one core they queue in the Go scheduler in
// front of everything else, the HTTP handler that serves /metrics and
// /healthz included (bench/README.md, "Overload": 1.2–2.7 s at 700–900
// handshakes). Through the gate the scheduler sees a handful of them, and
// a joining viewer waits for its turn instead of being refused: queue,
// don't refuse. While a viewer waits, the ClientHello that opened its turn
// is kept and its retransmissions are dropped (dtls.go), so its handshake
// starts once and is answered once. A viewer that goes away while waiting
// (its transport closes) leaves the queue. Only when the queue itself is
// full is a ClientHello dropped without a place: the viewer retransmits
// it (after 1 s, then backing off), and that retransmission asks again.

// DefaultHandshakesPerCore sizes the gate when Config.Handshakes is 0:
// this many handshakes per GOMAXPROCS. The gate counts a handshake from
// its ClientHello to its end, and most of that is round trips to the
// viewer: on loopback under a 600-viewer burst a turn took ~130 ms
// (bench/README.md, "The handshake gate"), over the Internet 2 RTTs. So
// the limit must be high enough that round trips do not throttle a burst
// (64 turns of 200 ms: 320 handshakes a second per core; 4 per core made
// a 620-viewer burst wait up to 5 s), and low enough that what can be
// runnable at once — a flight's signature, ECDHE and certificate check,
// well under a millisecond — stays a few tens of milliseconds of work
// ahead of an HTTP request instead of hundreds.
const DefaultHandshakesPerCore = 64

// DefaultHandshakeQueue bounds the viewers waiting at the gate.
const DefaultHandshakeQueue = 4096

// HandshakeLimit is the gate's size for a configured value n: n itself,
// or DefaultHandshakesPerCore × GOMAXPROCS when n is 0.
func HandshakeLimit(n int) int {
	if n > 0 {
		return n
	}
	return DefaultHandshakesPerCore * runtime.GOMAXPROCS(0)
}

// gate counts running handshakes and queues the rest.
type gate struct {
	limit, queue int
	met          *Metrics

	mu      sync.Mutex
	running int
	waiting list.List // of *ticket, oldest first
}

// ticket is one viewer's place: ready closes when its handshake may run.
type ticket struct {
	ready  chan struct{}
	since  time.Time
	waiter *list.Element // nil once admitted
}

func newGate(limit, queue int, met *Metrics) *gate {
	met.HandshakeLimit.Set(float64(limit))
	return &gate{limit: limit, queue: queue, met: met}
}

// take gives a ClientHello its place: admitted at once (ready already
// closed), queued, or nil when the queue is full.
func (g *gate) take() *ticket {
	tk := &ticket{ready: make(chan struct{}), since: time.Now()}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.running < g.limit && g.waiting.Len() == 0:
		g.running++
		g.met.HandshakesRunning.Inc()
		close(tk.ready)
		g.met.HandshakeWait.Observe(0)
	case g.waiting.Len() < g.queue:
		tk.waiter = g.waiting.PushBack(tk)
		g.met.HandshakesWaiting.Inc()
	default:
		g.met.HandshakesDeferred.Inc()
		return nil
	}
	return tk
}

// wait blocks until tk's handshake may run (true) or gone or stop closes
// first (false; tk's place is given up, or handed on if it came just
// then). A nil channel never closes.
func (g *gate) wait(tk *ticket, gone, stop <-chan struct{}) bool {
	select {
	case <-tk.ready:
		return true
	case <-gone:
	case <-stop:
	}
	g.mu.Lock()
	if tk.waiter != nil {
		g.waiting.Remove(tk.waiter)
		tk.waiter = nil
		g.met.HandshakesWaiting.Dec()
		g.mu.Unlock()
		return false
	}
	g.mu.Unlock()
	g.done() // admitted as it left: pass the turn on
	return false
}

// done ends a running handshake's turn: the oldest waiter runs next.
func (g *gate) done() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if e := g.waiting.Front(); e != nil {
		tk := g.waiting.Remove(e).(*ticket)
		tk.waiter = nil
		g.met.HandshakesWaiting.Dec()
		g.met.HandshakeWait.Observe(time.Since(tk.since).Seconds())
		close(tk.ready) // the turn passes on: running stays the same
		return
	}
	g.running--
	g.met.HandshakesRunning.Dec()
}

// gateMetrics are the gate's, made with the transport's (metrics.go).
func gateMetrics(m *Metrics) {
	m.HandshakesRunning = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "seatsfu", Name: "handshakes_running",
		Help: "Viewers' DTLS handshakes running now (at most seatsfu_handshakes_limit)."})
	m.HandshakesWaiting = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "seatsfu", Name: "handshakes_waiting",
		Help: "Viewers whose ClientHello arrived and whose DTLS handshake waits for its turn."})
	m.HandshakeLimit = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "seatsfu", Name: "handshakes_limit",
		Help: "DTLS handshakes the node runs at once (--handshakes; 0 there means 64 × GOMAXPROCS)."})
	m.HandshakeWait = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "seatsfu", Name: "handshake_wait_seconds",
		Help:    "How long a viewer's ClientHello waited for its DTLS handshake's turn.",
		Buckets: []float64{0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30}})
	m.HandshakesDeferred = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "seatsfu", Name: "handshakes_deferred_total",
		Help: "ClientHellos dropped because the handshake queue was full (the viewer's retransmission asks again)."})
}
