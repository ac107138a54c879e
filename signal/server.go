package signal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal/api"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/token"
	"github.com/seatsfu/seatsfu/signal/webhook"
	"github.com/seatsfu/seatsfu/signal/whip"
)

// Config configures the signalling edge.
type Config struct {
	// Secret signs and verifies tokens.
	Secret []byte
	// DevMode enables GET /demo/token (404 otherwise).
	DevMode bool
	// ReconnectGrace is how long a dropped member keeps its seat and
	// requests (default 15s).
	ReconnectGrace time.Duration
	// MaxSeats is the seat count of rooms created without create.maxSeats
	// (2..16, default 10).
	MaxSeats int
	// MaxMembers caps each room's members; 0 means no cap.
	MaxMembers int
	// SFU holds the rooms and their media. Required.
	SFU *sfu.SFU
	// Registry gets the edge's metrics and is what /metrics serves. Nil
	// means a private registry.
	Registry *prometheus.Registry
	Logger   *slog.Logger
	// Clock drives the seat controller and the rate limiters; nil is real
	// time.
	Clock seat.Clock
	// PingInterval and PingTimeout: ping every interval, drop a peer silent
	// for the timeout (defaults 15s / 30s).
	PingInterval, PingTimeout time.Duration
	// Demo is served at "/" (the demo page); nil answers 404.
	Demo http.Handler

	// RequestRate and RequestBurst limit requests per socket (defaults 50/s,
	// burst 100). A negative RequestRate disables the limit (benchmarks).
	RequestRate  float64
	RequestBurst int

	// MaxCohosts is the most rooms one co-host connection joins (2..9;
	// PROTOCOL.md §10). Zero takes the SFU's, which sizes the
	// subscriptions' co-host slots; any other value must equal it.
	MaxCohosts int

	// Limits are the node's caps and deadlines (limits.go).
	Limits Limits

	// Cluster, when set, makes this node one of a cluster sharing a Redis
	// (cluster.go, PROTOCOL.md §12); nil is one node, all in memory.
	Cluster *Cluster
	// v2 §11 (api_rooms.go, webhooks.go): where events go (nil: nowhere;
	// the caller closes it after Shutdown), who credits battle scores and
	// which rooms share a room's co-host connection (nil: this node's
	// co-host desk, cohost.go).
	Webhooks    *webhook.Dispatcher
	Battles     api.Battles
	CohostRooms func(roomID string) []string
}

const (
	defaultGrace        = 15 * time.Second
	defaultMaxSeats     = 10
	defaultPingInterval = 15 * time.Second
	defaultPingTimeout  = 30 * time.Second
	defaultRequestRate  = 50
	defaultRequestBurst = 100
	// closeHandshake is how long Shutdown lets sockets finish their close
	// handshakes before cutting them, well inside the contract's 5 s exit.
	closeHandshake = 2 * time.Second
	// demoTokenTTL is how long a demo token lives.
	demoTokenTTL = 24 * time.Hour
)

func (c *Config) requestRate() rate.Limit {
	if c.RequestRate < 0 {
		return rate.Inf
	}
	return rate.Limit(c.RequestRate)
}

func (c *Config) requestBurst() int { return c.RequestBurst }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Server is the signalling edge. Create it with New, serve Handler, stop it
// with Shutdown.
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	caps    *caps // the node's limits (limits.go)
	mux     *http.ServeMux

	// ctx is cancelled when Shutdown finishes; every session and stats
	// loop derives from it.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	closing  bool
	sessions map[*session]struct{}
	hubs     map[string]*roomHub
	wg       sync.WaitGroup // sessions and stats loops

	media  *whip.Server // WHIP and WHEP (signal/whip)
	cohost *cohostDesk  // co-hosting and battles (cohost.go)
	cl     *clusterEdge // nil without Config.Cluster (cluster.go)
}

// New checks cfg, fills its defaults and registers the metrics.
func New(cfg Config) (*Server, error) {
	if cfg.SFU == nil {
		return nil, errors.New("signal: Config.SFU is required")
	}
	if len(cfg.Secret) == 0 {
		return nil, errors.New("signal: Config.Secret is required")
	}
	if cfg.ReconnectGrace < 0 {
		return nil, errors.New("signal: negative ReconnectGrace")
	}
	if cfg.ReconnectGrace == 0 {
		cfg.ReconnectGrace = defaultGrace
	}
	if cfg.MaxSeats == 0 {
		cfg.MaxSeats = defaultMaxSeats
	}
	if cfg.MaxSeats < seat.MinSeats || cfg.MaxSeats > seat.MaxSeatsLimit {
		return nil, fmt.Errorf("signal: MaxSeats %d outside %d..%d", cfg.MaxSeats, seat.MinSeats, seat.MaxSeatsLimit)
	}
	if cfg.MaxMembers < 0 {
		return nil, errors.New("signal: negative MaxMembers")
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = defaultPingInterval
	}
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = defaultPingTimeout
	}
	if cfg.RequestRate == 0 {
		cfg.RequestRate = defaultRequestRate
	}
	if cfg.RequestBurst <= 0 {
		cfg.RequestBurst = defaultRequestBurst
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.MaxCohosts == 0 {
		cfg.MaxCohosts = cfg.SFU.MaxCohosts()
	}
	if cfg.MaxCohosts != cfg.SFU.MaxCohosts() {
		// The subscriptions' co-host slots are sized by the SFU's setting.
		return nil, fmt.Errorf("signal: MaxCohosts %d differs from the SFU's %d", cfg.MaxCohosts, cfg.SFU.MaxCohosts())
	}
	if err := cfg.Limits.fill(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, fmt.Errorf("signal: metrics: %w", err)
	}
	caps, err := newCaps(cfg, cfg.Registry)
	if err != nil {
		return nil, fmt.Errorf("signal: metrics: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		metrics:  m,
		caps:     caps,
		ctx:      ctx,
		cancel:   cancel,
		sessions: make(map[*session]struct{}),
		hubs:     make(map[string]*roomHub),
	}
	if s.cohost, err = newCohostDesk(s); err != nil {
		cancel()
		return nil, err
	}
	s.cohost.serveAPI() // scores and RoomInfo.cohost, unless the caller brings its own
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /v1/rtc", s.serveRTC)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /demo/token", s.serveDemoToken)
	s.mux.HandleFunc("GET /v1/nodes", s.serveNodes) // cluster.go
	s.mux.HandleFunc("POST /demo/battles/{battleId}/score", s.serveDemoScore)
	s.media = whip.New(whip.Config{
		Secret: cfg.Secret, SFU: cfg.SFU, Edge: whipEdge{s}, Clock: cfg.Clock, Logger: cfg.Logger,
		Admit: s.caps.admitPlayer, // limits.go
	})
	s.media.Route(s.mux)
	// A cluster node's side of the media cascade (cascade_host.go).
	s.mux.HandleFunc("GET "+cascadePath, s.serveCascade)
	if cfg.Cluster != nil {
		if s.cl, err = newClusterEdge(s, cfg.Cluster); err != nil { // cluster.go
			cancel()
			return nil, fmt.Errorf("signal: cluster: %w", err)
		}
	}
	// The server API (api_rooms.go).
	if err := s.routeAPI(); err != nil {
		return nil, err
	}
	if cfg.Demo != nil {
		s.mux.Handle("/", cfg.Demo)
	}
	return s, nil
}

// Handler serves /v1/rtc, /healthz, /metrics, /demo/token and the demo page
// at /. Serve it with HTTPServer on a listener from Listen, so the
// connection caps hold.
func (s *Server) Handler() http.Handler {
	if s.cl != nil {
		return s.guard(s.cl.redirectMedia(s.mux)) // relay.go: WHIP/WHEP go to the room's host
	}
	return s.guard(s.mux)
}

func (s *Server) now() time.Time { return s.cfg.Clock.Now() }

// serveRTC verifies the token before the upgrade — a refused token changes
// nothing — then serves the socket until it closes.
func (s *Server) serveRTC(w http.ResponseWriter, r *http.Request) {
	raw := token.FromRequest(r)
	if raw == "" {
		http.Error(w, "missing token", http.StatusUnauthorized)
		return
	}
	id, err := token.Verify(s.cfg.Secret, raw)
	if err != nil {
		http.Error(w, "invalid token", http.StatusUnauthorized)
		return
	}
	if !s.enter(w) {
		return
	}
	if s.cl != nil && s.cl.relay(w, r, raw, id) {
		s.wg.Done()
		return // served by the room's hosting node (relay.go)
	}

	user := userOf(id)
	var sess *session
	conn, err := websocket.Accept(lightHijack(w), r, &websocket.AcceptOptions{
		// Tokens, not cookies, authenticate: a page from another origin
		// gains nothing it does not already hold, and browsers on other
		// origins (apps, the SDK) must be able to connect.
		InsecureSkipVerify: true,
		OnPongReceived:     func(ctx context.Context, p []byte) { sess.pongReceived(ctx, p) },
	})
	if err != nil {
		s.wg.Done()
		return // Accept already answered
	}
	conn.SetReadLimit(maxFrame)
	sess = newSession(s, conn, user, id.Room)
	sess.access = accessOf(r, id.Expires)
	sess.mayHandOver(r, raw) // handover.go

	s.mu.Lock()
	if s.closing { // Shutdown began during the upgrade
		s.mu.Unlock()
		sess.endLife()
		_ = conn.Close(websocket.StatusGoingAway, "server shutdown")
		s.wg.Done()
		return
	}
	s.sessions[sess] = struct{}{}
	s.mu.Unlock()

	sess.startLife(id.Expires)
	go s.serveSession(sess) // upgrade.go: this handler returns, the session goes on
}

// openOrFind returns the token's room and its hub. The owner opens the room
// when it is absent; everyone else needs it open.
func (s *Server) openOrFind(u seat.User, roomID string, create *proto.CreateParams) (*sfu.Room, *roomHub, error) {
	if create != nil && u.Role != seat.RoleOwner {
		return nil, nil, withMessage(seat.ErrPermission, "only the owner may create the room")
	}
	if s.cl != nil {
		return s.cl.openOrFind(u, roomID, create) // cluster.go
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, nil, withMessage(seat.ErrRoomNotFound, "the server is shutting down")
	}
	if r := s.cfg.SFU.Room(roomID); r != nil {
		if h := s.hubs[roomID]; h != nil && h.room == r {
			return r, h, nil
		}
		return nil, nil, seat.ErrRoomNotFound
	}
	if u.Role != seat.RoleOwner {
		return nil, nil, seat.ErrRoomNotFound
	}
	if s.caps.roomsFull(len(s.hubs)) {
		return nil, nil, withMessage(errOverloaded, "the server has its maximum of open rooms")
	}
	cfg := s.newRoomConfig(u, roomID, create)
	r, h, err := s.openHubLocked(roomID, sfu.RoomConfig{Seat: cfg})
	if err != nil {
		return nil, nil, err
	}
	h.roomStarted(u, cfg.Meta.Title) // webhooks.go
	return r, h, nil
}

// newRoomConfig is the seat configuration of a room u opens now.
func (s *Server) newRoomConfig(u seat.User, roomID string, create *proto.CreateParams) seat.Config {
	cfg := seat.Config{
		RoomID:     roomID,
		MaxSeats:   s.cfg.MaxSeats,
		Mode:       seat.ModeApply,
		Owner:      u,
		Grace:      s.cfg.ReconnectGrace,
		MaxMembers: s.cfg.MaxMembers,
		MaxPending: s.cfg.Limits.MaxPendingRequests,
		Clock:      s.cfg.Clock,
	}
	cfg.Meta = createMeta(create)
	if create != nil {
		if create.MaxSeats != nil {
			cfg.MaxSeats = *create.MaxSeats
		}
		if create.SeatMode != "" {
			cfg.Mode = seat.Mode(create.SeatMode)
		}
	}
	return cfg
}

// openHubLocked opens the sfu room of rc with its hub and stats loop.
// Called with s.mu held.
func (s *Server) openHubLocked(roomID string, rc sfu.RoomConfig) (*sfu.Room, *roomHub, error) {
	h := newHub(s, roomID)
	rc.Notifier = h
	h.owner = rc.Seat.Owner
	if rc.Restored != nil {
		h.owner = rc.Restored.Owner()
	}
	if s.cl != nil {
		rc.Commit = s.cl.commit // cluster.go
	}
	r, err := s.cfg.SFU.OpenRoom(rc)
	if err != nil {
		return nil, nil, err
	}
	h.room = r
	s.hubs[roomID] = h
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		h.statsLoop()
		s.cohost.roomGone(h)
		s.mu.Lock()
		if s.hubs[roomID] == h {
			delete(s.hubs, roomID)
		}
		s.mu.Unlock()
	}()
	return r, h, nil
}

// Shutdown refuses new sockets, ends every room with server_shutdown (each
// member gets room.ended and its socket closes), closes the sockets that
// never joined, and waits for every session to end, their peers closed. When
// ctx expires first the remaining sockets are cut and ctx's error returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.media.Close()
	s.cohost.close()

	if s.cl != nil {
		s.cl.shutdown(ctx) // a cluster node hands its rooms over (cluster.go)
	}
	for _, r := range s.cfg.SFU.Rooms() {
		err := r.Do(func(sr *seat.Room) ([]seat.Delivery, error) { return sr.Shutdown(seat.ServerShutdown), nil })
		if err != nil {
			s.log.Debug("signal: shutdown room", "room", r.ID(), "err", err)
		}
	}
	s.mu.Lock()
	for sess := range s.sessions {
		sess.closeAfterQueued(websocket.StatusGoingAway, "server shutdown")
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		// Sessions end once their close handshakes finish; the stats loops
		// end with their rooms or with cancel below.
		s.waitSessions()
		close(done)
	}()
	// A peer that never answers the close handshake would hold coder's
	// Close for seconds: past closeHandshake (or ctx) sockets are cut.
	handshake := time.NewTimer(closeHandshake)
	defer handshake.Stop()
	var err error
	select {
	case <-done:
	case <-handshake.C:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.mu.Lock()
	for sess := range s.sessions {
		sess.cancel()
	}
	s.mu.Unlock()
	<-done
	s.media.Wait()
	s.cancel()
	s.wg.Wait()
	if s.cl != nil {
		s.cl.wait()
	}
	return err
}

// MediaSessions is the number of live WHIP and WHEP sessions.
func (s *Server) MediaSessions() int { return s.media.Sessions() }

// waitSessions returns once no session is left.
func (s *Server) waitSessions() {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		s.mu.Lock()
		n := len(s.sessions)
		s.mu.Unlock()
		if n == 0 {
			return
		}
		<-t.C
	}
}

// serveDemoToken mints a token for the demo page (dev mode only).
func (s *Server) serveDemoToken(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.DevMode {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	role := proto.Role(q.Get("role"))
	switch role {
	case proto.RoleOwner, proto.RoleAdmin, proto.RoleAudience:
	default:
		http.Error(w, `role must be owner, admin or audience`, http.StatusBadRequest)
		return
	}
	if !token.ValidID(q.Get("room")) || !token.ValidID(q.Get("user")) {
		http.Error(w, "room and user must be 1-128 characters of [A-Za-z0-9_.-]", http.StatusBadRequest)
		return
	}
	name := q.Get("name")
	if name == "" {
		name = q.Get("user")
	}
	raw, err := token.Mint(s.cfg.Secret, token.Identity{
		UserID: q.Get("user"), Room: q.Get("room"), Name: name, Avatar: q.Get("avatar"), Role: role,
	}, demoTokenTTL)
	if err != nil {
		http.Error(w, "bad token parameters: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]string{"token": raw})
}

// enter counts a request Shutdown must wait for, or answers 503 and
// returns false once Shutdown began. The caller calls s.wg.Done when done.
func (s *Server) enter(w http.ResponseWriter) bool {
	s.mu.Lock()
	closing := s.closing
	if !closing {
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if closing {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
	}
	return !closing
}
