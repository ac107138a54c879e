package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config configures the dispatcher. Zero values take the defaults below.
type Config struct {
	URLs   []string // http(s) receivers; each gets every event
	Secret []byte   // signs each body (the server's token secret)

	QueueSize      int           // events waiting per receiver, all rooms (default 10 000)
	RoomQueueSize  int           // events waiting per receiver and room (default 1 000)
	Workers        int           // deliveries in flight per receiver (default 8)
	AttemptTimeout time.Duration // one POST (default 10 s)
	RetryFor       time.Duration // how long a failing event is retried (default 10 min)

	Clock      Clock        // nil: real time
	Client     *http.Client // nil: a client without redirects
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Jitter returns the factor in [0, 1) that spreads each retry delay
	// over [d/2, d); nil is math/rand.
	Jitter func() float64
}

// Defaults and limits of Config.
const (
	DefaultQueueSize      = 10_000
	DefaultRoomQueueSize  = 1_000
	DefaultWorkers        = 8
	DefaultAttemptTimeout = 10 * time.Second
	DefaultRetryFor       = 10 * time.Minute
	// FirstRetry and MaxRetry bound the backoff: 1 s, 2 s, 4 s … 30 s.
	FirstRetry = time.Second
	MaxRetry   = 30 * time.Second
	// maxResponse is how much of a receiver's answer is read (and thrown
	// away) so its connection can be reused.
	maxResponse = 64 << 10
)

// Dispatcher delivers events to the configured receivers. A nil
// *Dispatcher is valid and drops everything silently (no URL configured).
type Dispatcher struct {
	cfg    Config
	m      *metrics
	log    *slog.Logger
	sinks  []*sink
	prefix string // random per process, so ids never repeat across restarts
	seq    atomic.Uint64

	ctx    context.Context // cancelled by Close: ends every attempt
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
	hold   atomic.Pointer[HoldFunc] // hold.go
}

// ParseURLs checks a --webhook-url list: absolute http(s) URLs.
func ParseURLs(list []string) error {
	for _, raw := range list {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%q is not an absolute http(s) URL", raw)
		}
	}
	return nil
}

// New starts the receivers' workers. With no URL it returns nil, a
// dispatcher that drops everything.
func New(cfg Config) (*Dispatcher, error) {
	if len(cfg.URLs) == 0 {
		return nil, nil
	}
	if err := ParseURLs(cfg.URLs); err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	if len(cfg.Secret) == 0 {
		return nil, errors.New("webhook: a secret is required to sign events")
	}
	if cfg.QueueSize < 0 || cfg.RoomQueueSize < 0 || cfg.Workers < 0 || cfg.AttemptTimeout < 0 || cfg.RetryFor < 0 {
		return nil, errors.New("webhook: negative limit")
	}
	setDefault(&cfg.QueueSize, DefaultQueueSize)
	setDefault(&cfg.RoomQueueSize, DefaultRoomQueueSize)
	setDefault(&cfg.Workers, DefaultWorkers)
	setDefault(&cfg.AttemptTimeout, DefaultAttemptTimeout)
	setDefault(&cfg.RetryFor, DefaultRetryFor)
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{
			// Its own connections, closed by Close.
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			// A receiver that redirects is misconfigured; following it
			// would send signed events somewhere nobody configured.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Jitter == nil {
		cfg.Jitter = mrand.Float64
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("webhook: metrics: %w", err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("webhook: id prefix: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &Dispatcher{cfg: cfg, m: m, log: cfg.Logger, prefix: "evt_" + hex.EncodeToString(b[:]) + "_", ctx: ctx, cancel: cancel}
	for _, u := range cfg.URLs {
		s := newSink(d, u)
		d.sinks = append(d.sinks, s)
		for range cfg.Workers {
			d.wg.Add(1)
			go func() { defer d.wg.Done(); s.work() }()
		}
	}
	return d, nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// Emit queues an event for every receiver and returns at once: it never
// blocks on the network, so rooms call it under their lock, which is what
// keeps each room's events in order. data must not change afterwards (it is
// encoded later, on a worker).
func (d *Dispatcher) Emit(roomID, event string, data any) {
	if d == nil {
		return
	}
	ev := &pending{env: Envelope{
		ID:        d.prefix + strconv.FormatUint(d.seq.Add(1), 10),
		Event:     event,
		CreatedAt: d.cfg.Clock.Now().UnixMilli(),
		RoomID:    roomID,
		Data:      data,
	}, hold: d.holdFor(roomID)}
	if d.closed.Load() {
		d.m.dropped.WithLabelValues(dropShutdown).Add(float64(len(d.sinks)))
		return
	}
	for _, s := range d.sinks {
		s.enqueue(ev.clone())
	}
}

// Close delivers what is queued until ctx ends, then abandons the rest
// (counted as dropped, reason shutdown) and stops every worker.
func (d *Dispatcher) Close(ctx context.Context) error {
	if d == nil {
		return nil
	}
	d.closed.Store(true)
	var err error
	for _, s := range d.sinks {
		if err = s.drain(ctx); err != nil {
			break
		}
	}
	d.cancel()
	d.wg.Wait()
	for _, s := range d.sinks {
		s.stop()
	}
	d.cfg.Client.CloseIdleConnections()
	return err
}

// backoff is the delay before retry n (1-based): FirstRetry doubling up to
// MaxRetry, scaled into [d/2, d) by the jitter.
func (d *Dispatcher) backoff(n int) time.Duration {
	base := MaxRetry
	if n < 16 {
		base = min(FirstRetry<<(n-1), MaxRetry)
	}
	f := math.Max(0, math.Min(d.cfg.Jitter(), 1))
	return time.Duration(float64(base) * (0.5 + f/2))
}
