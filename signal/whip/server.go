package whip

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal/token"
)

// Edge is what WHIP and WHEP need from the signalling edge.
type Edge interface {
	// Open returns the room id's token names and the room's presence. An
	// owner opens the room when nobody has (as room.join without create
	// would); everyone else needs it open. Refusals are the rules' errors
	// (*seat.Error).
	Open(id token.Identity) (*sfu.Room, Presence, error)
}

// Presence is a room's one record of who is there, kept by the edge: the
// signalling sockets and the owner's WHIP sessions.
type Presence interface {
	// Hold counts one WHIP session as the user's presence and, when no
	// socket speaks for the user, resumes it (inside its reconnect grace,
	// seat kept) as a room.join would. On an error nothing was counted.
	Hold(id token.Identity) error
	// Release ends one held session. With neither a socket nor another
	// held session left, the user disconnects (grace, then owner_timeout);
	// endIfAlone ends at once a room nobody else entered.
	Release(userID string, endIfAlone bool)
}

// Clock is the source of time of the per-IP POST budget.
type Clock interface{ Now() time.Time }

// Config configures the media doors.
type Config struct {
	Secret []byte   // verifies tokens
	SFU    *sfu.SFU // the rooms
	Edge   Edge
	Admit  Admit // the node's WHEP limits (limits.go); nil admits every player
	Clock  Clock
	Logger *slog.Logger
}

// Server is the WHIP and WHEP endpoints and their sessions. Create it with
// New, register it with Route; Close refuses new sessions and Wait ends
// the live ones.
type Server struct {
	cfg      Config
	log      *slog.Logger
	sessions *sessions
	limiters *ipLimiters

	// ctx is cancelled by Wait; every watcher ends with it.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	closing bool
	wg      sync.WaitGroup // requests that may start sessions, and watchers
}

// New returns the media doors; cfg's fields are required but Logger.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		sessions: newSessions(),
		limiters: newIPLimiters(),
		ctx:      ctx,
		cancel:   cancel,
	}
}

// Route registers the WHIP and WHEP endpoints and their session resources.
func (s *Server) Route(mux *http.ServeMux) {
	for _, kind := range []string{kindWHIP, kindWHEP} {
		base := "/" + kind + "/{room}"
		post := s.postWHIP
		if kind == kindWHEP {
			post = s.postWHEP
		}
		mux.HandleFunc("POST "+base, post)
		mux.HandleFunc("OPTIONS "+base, preflight("POST, OPTIONS", true))
		mux.HandleFunc("DELETE "+base+"/{session}", s.deleteSession(kind))
		mux.HandleFunc("PATCH "+base+"/{session}", s.patchSession(kind))
		mux.HandleFunc("OPTIONS "+base+"/{session}", preflight("PATCH, DELETE, OPTIONS", false))
	}
}

// Sessions is the number of live WHIP and WHEP sessions.
func (s *Server) Sessions() int { return s.sessions.count() }

// Close refuses every POST from now on (503); live sessions go on.
func (s *Server) Close() {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
}

// Wait closes every live session's peer connection and returns once every
// request and watcher has finished. Call Close first.
func (s *Server) Wait() {
	s.cancel()
	s.wg.Wait()
}

// enter registers a request that may start sessions, so Wait waits for it;
// false (503 sent) once Close was called.
func (s *Server) enter(w http.ResponseWriter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		httpError(w, http.StatusServiceUnavailable, "shutting down")
		return false
	}
	s.wg.Add(1)
	return true
}
