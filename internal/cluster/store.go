package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Defaults of Options.
const (
	DefaultPrefix    = "seatsfu:"
	DefaultOpTimeout = time.Second
)

// Options open a Store.
type Options struct {
	// URL is the --redis setting: redis://[user:password@]host:port/db
	// (rediss:// for TLS).
	URL string
	// Prefix namespaces every key; DefaultPrefix when empty.
	Prefix string
	// OpTimeout bounds one operation, round trips included, so a Redis that
	// stops answering fails calls fast instead of stalling the node;
	// DefaultOpTimeout when zero.
	OpTimeout time.Duration
	// Metrics receives the series; nil keeps unregistered ones.
	Metrics *Metrics
}

// Store is the cluster's view of Redis: the node registry, room leases
// with fencing, and room state. Every method is safe for concurrent use
// and returns within OpTimeout; a failure to reach Redis is ErrUnavailable
// and counts in redis_errors_total{op}.
type Store struct {
	rdb       *redis.Client
	keys      keys
	opTimeout time.Duration
	m         *Metrics
	down      atomic.Bool // the last operation could not reach Redis
}

// Open connects lazily: it checks the URL, not that Redis is up (a node
// starts while Redis is down and joins when it comes back).
func Open(opts Options) (*Store, error) {
	ro, err := redis.ParseURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("cluster: bad redis URL: %w", err)
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.OpTimeout <= 0 {
		opts.OpTimeout = DefaultOpTimeout
	}
	if opts.Metrics == nil {
		if opts.Metrics, err = NewMetrics(nil); err != nil {
			return nil, err
		}
	}
	// Fail fast: no client-side retries (the node's tick is the retry),
	// socket timeouts within the operation's, and the context's deadline
	// honoured on the socket.
	ro.MaxRetries = -1
	ro.DialerRetries = 1
	ro.DialTimeout = min(opts.OpTimeout, 500*time.Millisecond)
	ro.ReadTimeout, ro.WriteTimeout, ro.PoolTimeout = opts.OpTimeout, opts.OpTimeout, opts.OpTimeout
	ro.ContextTimeoutEnabled = true
	ro.PoolSize = 8
	ro.DisableIdentity = true
	ro.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return &Store{rdb: redis.NewClient(ro), keys: keys{opts.Prefix}, opTimeout: opts.OpTimeout, m: opts.Metrics}, nil
}

// Close closes the connections.
func (s *Store) Close() error { return s.rdb.Close() }

// Metrics returns the store's series.
func (s *Store) Metrics() *Metrics { return s.m }

// Up reports whether the last operation reached Redis (true before the
// first). A caller on a hot path skips a write while it is false and leaves
// it to the node's tick, so a Redis that stopped answering costs it no
// OpTimeout per call.
func (s *Store) Up() bool { return !s.down.Load() }

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.do(ctx, opPing, func(ctx context.Context) error { return s.rdb.Ping(ctx).Err() })
}

// do runs one operation within OpTimeout and sorts its error out: Redis
// unreachable or not serving (ErrUnavailable, counted), the scripts'
// FENCED and STALE replies (ErrFenced, errStale), or the caller's own
// cancellation (returned as is).
func (s *Store) do(ctx context.Context, op string, f func(context.Context) error) error {
	octx, cancel := context.WithTimeout(ctx, s.opTimeout)
	defer cancel()
	err := f(octx)
	var st settledError
	if err == nil || errors.Is(err, redis.Nil) || errors.As(err, &st) {
		s.down.Store(false)
		s.m.redisUp.Set(1)
		if st.error != nil {
			return st.error
		}
		return err
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		msg := rerr.Error()
		switch {
		case strings.HasPrefix(msg, "FENCED"):
			s.m.redisUp.Set(1)
			return ErrFenced
		case strings.HasPrefix(msg, "STALE"):
			s.m.redisUp.Set(1)
			return errStale
		case !unavailableReply(msg):
			// A reply Redis gave on purpose: a bug here, not an outage.
			s.m.redisUp.Set(1)
			return fmt.Errorf("cluster: %s: %w", op, err)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	s.down.Store(true)
	s.m.redisUp.Set(0)
	s.m.redisErrors.WithLabelValues(op).Inc()
	return fmt.Errorf("%w: %s: %v", ErrUnavailable, op, err)
}

// errStale is a save whose version is not newer than the stored one: a
// newer state is already there.
var errStale = errors.New("cluster: a newer state is already saved")

// unavailableReply tells the replies of a Redis that is up but not serving
// (loading its data, a replica mid-failover, shutting down) from the
// replies to a wrong command.
func unavailableReply(msg string) bool {
	for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "BUSY"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// redisPipe is the pipeline type go-redis hands to TxPipelined.
type redisPipe = redis.Pipeliner

// settledError carries an answer Redis gave (no state, corrupt data) out of
// an operation, so do does not mistake it for Redis being unreachable.
type settledError struct{ error }

func settled(err error) error { return settledError{err} }
