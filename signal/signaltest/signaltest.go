package signaltest

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/token"
)

// Env is a running edge. Everything it started is stopped by t.Cleanup.
type Env struct {
	URL      string // http://127.0.0.1:port
	WSURL    string // ws://127.0.0.1:port/v1/rtc
	Secret   []byte
	Server   *signal.Server
	SFU      *sfu.SFU
	Registry *prometheus.Registry
	HTTP     *httptest.Server

	t testing.TB
}

// Option adjusts the edge's configuration before it starts.
type Option func(*options)

type options struct {
	sig    signal.Config
	sfu    sfu.Config
	secret []byte                          // WithSecret
	ln     net.Listener                    // WithListener
	wrap   func(net.Listener) net.Listener // WrapListener
}

// WithSecret sets the token secret (default random per Env): the nodes of
// a cluster share one.
func WithSecret(secret []byte) Option { return func(o *options) { o.secret = secret } }

// WithListener serves the edge on ln (default a fresh loopback port): a
// cluster node must know its own URL before it starts.
func WithListener(ln net.Listener) Option { return func(o *options) { o.ln = ln } }

// WrapListener serves the edge on wrap(ln) instead of its listener ln:
// a test may stand between the edge and its clients' connections (hold
// its writes, for a client that stops reading, with no kernel buffer to
// soak them up).
func WrapListener(wrap func(net.Listener) net.Listener) Option {
	return func(o *options) { o.wrap = wrap }
}

// WithGrace sets the reconnect grace (default 15s).
func WithGrace(d time.Duration) Option { return func(o *options) { o.sig.ReconnectGrace = d } }

// WithClock injects the clock of the seat controllers and rate limiters.
func WithClock(c seat.Clock) Option { return func(o *options) { o.sig.Clock = c } }

// WithPing sets the ping interval and the silence after which a peer is
// dropped.
func WithPing(interval, timeout time.Duration) Option {
	return func(o *options) { o.sig.PingInterval, o.sig.PingTimeout = interval, timeout }
}

// WithMaxSeats sets the default seats per room.
func WithMaxSeats(n int) Option { return func(o *options) { o.sig.MaxSeats = n } }

// WithMaxCohosts sets the rooms per co-host connection (PROTOCOL.md §10),
// in the signal and the sfu alike.
func WithMaxCohosts(n int) Option {
	return func(o *options) { o.sig.MaxCohosts, o.sfu.MaxCohosts = n, n }
}

// WithMaxMembers caps each room's members.
func WithMaxMembers(n int) Option { return func(o *options) { o.sig.MaxMembers = n } }

// WithDemo serves h at "/" and turns dev mode (GET /demo/token) on.
func WithDemo(h http.Handler) Option {
	return func(o *options) { o.sig.Demo, o.sig.DevMode = h, true }
}

// WithDevMode turns GET /demo/token on.
func WithDevMode() Option { return func(o *options) { o.sig.DevMode = true } }

// WithLogger sets both layers' logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.sig.Logger, o.sfu.Logger = l, l }
}

// WithLimits sets the node's limits (zero fields: no cap / default).
func WithLimits(l signal.Limits) Option { return func(o *options) { o.sig.Limits = l } }

// WithSignalConfig edits the signal config directly, for anything the other
// options do not cover (request rate limits, for instance).
func WithSignalConfig(f func(*signal.Config)) Option { return func(o *options) { f(&o.sig) } }

// WithSFUConfig edits the sfu config directly (video codec, for instance).
func WithSFUConfig(f func(*sfu.Config)) Option { return func(o *options) { f(&o.sfu) } }

// Start starts an edge on 127.0.0.1: an sfu on a free UDP port advertising
// 127.0.0.1, the signal server, and an HTTP server. Cleanup shuts the signal
// server down (room.ended to everyone), closes the HTTP server and the sfu.
func Start(t testing.TB, opts ...Option) *Env {
	t.Helper()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatalf("signaltest: secret: %v", err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	o := options{
		sig: signal.Config{Secret: secret, Registry: reg, Logger: quiet},
		sfu: sfu.Config{UDPPort: 0, IPs: []string{"127.0.0.1"}, Logger: quiet, Registerer: reg},
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.secret != nil {
		secret = o.secret
	}
	o.sig.Secret, o.sig.Registry = secret, reg

	media, err := sfu.New(o.sfu)
	if err != nil {
		t.Fatalf("signaltest: sfu.New: %v", err)
	}
	o.sig.SFU = media
	srv, err := signal.New(o.sig)
	if err != nil {
		_ = media.Close()
		t.Fatalf("signaltest: signal.New: %v", err)
	}
	// Served exactly as seatsfu serves it: the connection caps counted at
	// the listener and the HTTP timeouts of signal.HTTPServer.
	hs := httptest.NewUnstartedServer(srv.Handler())
	if o.ln != nil {
		_ = hs.Listener.Close()
		hs.Listener = o.ln
	}
	if o.wrap != nil {
		hs.Listener = o.wrap(hs.Listener)
	}
	hs.Listener = srv.Listen(hs.Listener)
	hs.Config = srv.HTTPServer(srv.Handler(), nil)
	hs.Start()
	env := &Env{
		URL:      hs.URL,
		WSURL:    "ws" + strings.TrimPrefix(hs.URL, "http") + "/v1/rtc",
		Secret:   secret,
		Server:   srv,
		SFU:      media,
		Registry: reg,
		HTTP:     hs,
		t:        t,
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("signaltest: Shutdown: %v", err)
		}
		hs.Close()
		if err := media.Close(); err != nil {
			t.Errorf("signaltest: sfu.Close: %v", err)
		}
	})
	return env
}

// Token mints a one-hour token for user in room with role; the user's name
// is its id.
func (e *Env) Token(room, user string, role proto.Role) string {
	e.t.Helper()
	return e.TokenFor(token.Identity{UserID: user, Room: room, Name: user, Role: role}, time.Hour)
}

// TokenFor mints a token for any identity and lifetime.
func (e *Env) TokenFor(id token.Identity, ttl time.Duration) string {
	e.t.Helper()
	raw, err := token.Mint(e.Secret, id, ttl)
	if err != nil {
		e.t.Fatalf("signaltest: mint: %v", err)
	}
	return raw
}
