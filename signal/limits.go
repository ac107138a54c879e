package signal

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/whip"
)

// The node's defences against hostile load (PROTOCOL.md §3.4): caps on rooms,
// subscriptions, WHEP players per user and connections, the per-user rate
// budgets that survive reconnects, and the deadlines of a socket's life
// (join, token expiry). connlimit.go counts connections at the listener,
// expiry.go runs the deadlines; this file holds the settings, the counters
// and their metrics.

// Limits are the node's caps. A zero count means no cap; a zero duration
// means its default.
type Limits struct {
	// MaxPendingRequests caps each room's pending seat requests
	// (requests_full beyond).
	MaxPendingRequests int
	// MaxRooms caps the open rooms of the node (overloaded for a new one).
	MaxRooms int
	// MaxSubscribers caps subscriptions (rtc.subscribe and WHEP) on the
	// node: overloaded / 503 beyond.
	MaxSubscribers int
	// MaxWHEPPerUser caps the live WHEP sessions of one user in one room
	// (429 beyond).
	MaxWHEPPerUser int
	// MaxConns and MaxConnsPerIP cap open HTTP connections, WebSockets
	// included, of the node and of one client IP (Listen).
	MaxConns, MaxConnsPerIP int
	// JoinTimeout closes a socket that has not joined (default 10s).
	JoinTimeout time.Duration
	// ExpiryGrace is how long a session whose token expired may stay
	// without session.refresh (default 60s).
	ExpiryGrace time.Duration
	// MaxBudgets bounds the table of per-user rate budgets (default
	// 100 000 entries).
	MaxBudgets int
	// HTTPReadTimeout bounds reading one HTTP request, body included
	// (default 10s); HTTPIdleTimeout closes a keep-alive connection idle
	// that long (default 60s). See HTTPServer.
	HTTPReadTimeout, HTTPIdleTimeout time.Duration
}

const (
	defaultJoinTimeout = 10 * time.Second
	defaultExpiryGrace = 60 * time.Second
	defaultMaxBudgets  = 100_000
	defaultReadTimeout = 10 * time.Second
	defaultIdleTimeout = 60 * time.Second
)

// errOverloaded answers work the node refuses because it is over a
// configured limit.
var errOverloaded = &seat.Error{Reason: string(proto.ReasonOverloaded), Message: "the server is over capacity; try again later"}

func (l *Limits) fill() error {
	for _, n := range []int{l.MaxPendingRequests, l.MaxRooms, l.MaxSubscribers, l.MaxWHEPPerUser, l.MaxConns, l.MaxConnsPerIP, l.MaxBudgets} {
		if n < 0 {
			return errors.New("signal: negative limit")
		}
	}
	if l.JoinTimeout < 0 || l.ExpiryGrace < 0 || l.HTTPReadTimeout < 0 || l.HTTPIdleTimeout < 0 {
		return errors.New("signal: negative timeout")
	}
	if l.HTTPReadTimeout == 0 {
		l.HTTPReadTimeout = defaultReadTimeout
	}
	if l.HTTPIdleTimeout == 0 {
		l.HTTPIdleTimeout = defaultIdleTimeout
	}
	if l.JoinTimeout == 0 {
		l.JoinTimeout = defaultJoinTimeout
	}
	if l.ExpiryGrace == 0 {
		l.ExpiryGrace = defaultExpiryGrace
	}
	if l.MaxBudgets == 0 {
		l.MaxBudgets = defaultMaxBudgets
	}
	return nil
}

// The limit label of seatsfu_limit and seatsfu_limit_refusals_total.
const (
	limitMembers      = "members"
	limitPending      = "pending_requests"
	limitRooms        = "rooms"
	limitSubscribers  = "subscribers"
	limitWHEPPerUser  = "whep_per_user"
	limitConns        = "conns"
	limitConnsPerIP   = "conns_per_ip"
	limitJoinTimeout  = "join_timeout"
	limitTokenExpiry  = "token_expiry"
	limitRequestRate  = "request_rate"
	limitMessageRate  = "message_rate"
	limitRateBudgets  = "rate_budgets"
	limitHeaderBytes  = "http_header_bytes"
	limitReadTimeout  = "http_read_timeout_seconds"
	limitIdleTimeout  = "http_idle_timeout_seconds"
	limitExpiryGrace  = "token_expiry_grace_seconds"
	limitJoinDeadline = "join_timeout_seconds"
	limitOutQueue     = "out_queue"      // a socket's queued frames; full, it is closed
	limitHostOutQueue = "host_out_queue" // the same for a host's socket
)

// caps is the Server's share of the limits: counters and their metrics.
type caps struct {
	cfg Limits

	value       *prometheus.GaugeVec   // seatsfu_limit{limit}: the configured caps
	refusals    *prometheus.CounterVec // seatsfu_limit_refusals_total{limit}
	subscribers prometheus.Gauge       // seatsfu_subscribers
	conns       prometheus.Gauge       // seatsfu_http_connections
	budgetCount prometheus.Gauge       // seatsfu_rate_budgets

	budgets *budgets

	mu      sync.Mutex
	subs    int            // live subscriptions of the node
	players map[string]int // room+"\x00"+user → live WHEP sessions
}

func newCaps(cfg Config, reg prometheus.Registerer) (*caps, error) {
	c := &caps{
		cfg: cfg.Limits,
		value: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "seatsfu_limit",
			Help: "The configured caps (0 = none), by limit.",
		}, []string{"limit"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seatsfu_limit_refusals_total",
			Help: "Work refused or sockets closed because a limit was reached, by limit.",
		}, []string{"limit"}),
		subscribers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "seatsfu_subscribers",
			Help: "Live subscriptions (rtc.subscribe and WHEP) counted against --max-subscribers.",
		}),
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "seatsfu_http_connections",
			Help: "Open HTTP connections, WebSockets included, counted against --max-conns.",
		}),
		budgetCount: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "seatsfu_rate_budgets",
			Help: "Per-user rate budgets remembered across reconnects.",
		}),
		players: make(map[string]int),
	}
	c.budgets = newBudgets(cfg.Limits.MaxBudgets, cfg.requestRate(), cfg.requestBurst(), c.budgetCount)
	for _, col := range []prometheus.Collector{c.value, c.refusals, c.subscribers, c.conns, c.budgetCount} {
		if err := reg.Register(col); err != nil {
			return nil, err
		}
	}
	l := cfg.Limits
	for name, v := range map[string]float64{
		limitMembers:      float64(cfg.MaxMembers),
		limitPending:      float64(l.MaxPendingRequests),
		limitRooms:        float64(l.MaxRooms),
		limitSubscribers:  float64(l.MaxSubscribers),
		limitWHEPPerUser:  float64(l.MaxWHEPPerUser),
		limitConns:        float64(l.MaxConns),
		limitConnsPerIP:   float64(l.MaxConnsPerIP),
		limitRateBudgets:  float64(l.MaxBudgets),
		limitJoinDeadline: l.JoinTimeout.Seconds(),
		limitExpiryGrace:  l.ExpiryGrace.Seconds(),
		limitReadTimeout:  l.HTTPReadTimeout.Seconds(),
		limitIdleTimeout:  l.HTTPIdleTimeout.Seconds(),
		limitHeaderBytes:  maxHeaderBytes,
		limitOutQueue:     outQueue,
		limitHostOutQueue: float64(hostQueueLimit(cfg.MaxMembers)),
	} {
		c.value.WithLabelValues(name).Set(v)
	}
	for _, name := range []string{limitMembers, limitPending, limitRooms, limitSubscribers, limitWHEPPerUser,
		limitConns, limitConnsPerIP, limitJoinTimeout, limitTokenExpiry, limitRequestRate, limitMessageRate, limitOutQueue,
		limitHostOutQueue} {
		c.refusals.WithLabelValues(name)
	}
	return c, nil
}

func (c *caps) refused(limit string) { c.refusals.WithLabelValues(limit).Inc() }

// noteError counts a seat refusal that is a limit's doing.
func (c *caps) noteError(reason string) {
	switch reason {
	case seat.ErrRoomFull.Reason:
		c.refused(limitMembers)
	case seat.ErrRequestsFull.Reason:
		c.refused(limitPending)
	}
}

// roomsFull reports whether a node with open rooms may not open another.
func (c *caps) roomsFull(open int) bool {
	if c.cfg.MaxRooms > 0 && open >= c.cfg.MaxRooms {
		c.refused(limitRooms)
		return true
	}
	return false
}

// admitSubscriber counts a subscription about to be answered; false (and
// nothing counted) over MaxSubscribers. Every true is matched by one
// releaseSubscriber.
func (c *caps) admitSubscriber() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg.MaxSubscribers > 0 && c.subs >= c.cfg.MaxSubscribers {
		c.refusals.WithLabelValues(limitSubscribers).Inc()
		return false
	}
	c.subs++
	c.subscribers.Set(float64(c.subs))
	return true
}

func (c *caps) releaseSubscriber() {
	c.mu.Lock()
	c.subs--
	c.subscribers.Set(float64(c.subs))
	c.mu.Unlock()
}

// admitPlayer counts a WHEP session of user in room against both
// MaxWHEPPerUser and MaxSubscribers, and returns what undoes it.
func (c *caps) admitPlayer(room, user string) (func(), error) {
	key := room + "\x00" + user
	c.mu.Lock()
	if c.cfg.MaxWHEPPerUser > 0 && c.players[key] >= c.cfg.MaxWHEPPerUser {
		c.mu.Unlock()
		c.refused(limitWHEPPerUser)
		return nil, whip.ErrTooManyPlayers
	}
	c.players[key]++
	c.mu.Unlock()
	if !c.admitSubscriber() {
		c.releasePlayer(key)
		return nil, errOverloaded
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			c.releaseSubscriber()
			c.releasePlayer(key)
		})
	}, nil
}

func (c *caps) releasePlayer(key string) {
	c.mu.Lock()
	if c.players[key]--; c.players[key] <= 0 {
		delete(c.players, key)
	}
	c.mu.Unlock()
}

// holdSubscription keeps an rtc.subscribe connection counted until it
// closes (whoever closes it: the session replacing it or ending, the room
// ending, ICE failing, the server stopping). The counter was taken with
// admitSubscriber. A callback, not a goroutine per subscription (issue 16:
// a viewer's goroutines).
func (s *Server) holdSubscription(p *sfu.Peer) {
	p.AfterClose(s.caps.releaseSubscriber)
}

// budget is one user's rate limits in one room: every frame of its sockets
// spends from requests, every room.sendMessage from messages. It outlives
// the sockets, so reconnecting does not refill it.
type budget struct {
	requests, messages *rate.Limiter
	refs               int // live sockets using it; never forgotten while > 0
	key                string
}

// budgets is the bounded table of budgets by room+user. A budget nobody
// uses whose buckets are full again carries no memory of the past, so
// forgetting it changes nothing: that is how the table expires entries.
type budgets struct {
	mu       sync.Mutex
	max      int
	byKey    map[string]*budget
	reqRate  rate.Limit
	reqBurst int
	size     prometheus.Gauge
}

func newBudgets(max int, reqRate rate.Limit, reqBurst int, size prometheus.Gauge) *budgets {
	return &budgets{max: max, byKey: make(map[string]*budget), reqRate: reqRate, reqBurst: reqBurst, size: size}
}

func (b *budgets) fresh(key string) *budget {
	return &budget{
		requests: rate.NewLimiter(b.reqRate, b.reqBurst),
		messages: rate.NewLimiter(messageRate, messageBurst),
		key:      key,
	}
}

// acquire returns room+user's budget, shared by every socket of the user
// and kept after they close. When the table is full of budgets in use or
// still refilling, the socket gets one of its own (the limits then hold per
// socket, as they did before budgets were shared).
func (b *budgets) acquire(room, user string, now time.Time) *budget {
	key := room + "\x00" + user
	b.mu.Lock()
	defer b.mu.Unlock()
	if bu := b.byKey[key]; bu != nil {
		bu.refs++
		return bu
	}
	if len(b.byKey) >= b.max {
		b.sweep(now)
	}
	bu := b.fresh(key)
	bu.refs = 1
	if len(b.byKey) < b.max {
		b.byKey[key] = bu
		b.size.Set(float64(len(b.byKey)))
	}
	return bu
}

func (b *budgets) release(bu *budget) {
	b.mu.Lock()
	bu.refs--
	b.mu.Unlock()
}

// sweep forgets the budgets that are unused and full again.
func (b *budgets) sweep(now time.Time) {
	for k, bu := range b.byKey {
		if bu.refs == 0 && full(bu.requests, now) && full(bu.messages, now) {
			delete(b.byKey, k)
		}
	}
	b.size.Set(float64(len(b.byKey)))
}

func full(l *rate.Limiter, now time.Time) bool {
	return l.Limit() == rate.Inf || l.TokensAt(now) >= float64(l.Burst())
}

// len is the number of remembered budgets (tests).
func (b *budgets) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.byKey)
}
