package whip

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal/token"
)

// The HTTP plumbing WHIP (RFC 9725) and WHEP (draft-ietf-wish-whep) share:
// routes, CORS, the token gate, bounded bodies, the per-IP POST limit, and
// the mapping of refusals to status codes. whip.go and whep.go hold what
// differs; sessions.go the sessions' resources (DELETE, PATCH).

const (
	// maxSDPBody bounds an offer or a trickle fragment; real offers are a
	// few KiB and the sfu refuses anything larger anyway.
	maxSDPBody = 64 << 10
	// postRate/postBurst are each client IP's POST budget: a player or an
	// encoder posts once per session, so this only bites on abuse (every
	// POST costs an ICE gathering).
	postRate  = 10
	postBurst = 30
	// maxLimiters bounds the per-IP limiter table.
	maxLimiters = 10_000

	contentTypeSDP     = "application/sdp"
	contentTypeSDPFrag = "application/trickle-ice-sdpfrag"
)

// cors marks a response readable by pages of any origin: the bearer token,
// not a cookie, authenticates, so another origin gains nothing it does not
// already hold — and browser players live on other origins.
func cors(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "Location, ETag, Link, Accept-Post, Retry-After")
}

// preflight answers OPTIONS: the CORS preflight, and on an endpoint the
// Accept-Post header RFC 9725 asks for.
func preflight(methods string, endpoint bool) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		cors(w)
		h := w.Header()
		h.Set("Allow", methods)
		h.Set("Access-Control-Allow-Methods", methods)
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
		h.Set("Access-Control-Max-Age", "86400")
		if endpoint {
			h.Set("Accept-Post", contentTypeSDP)
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// httpError answers a refusal as plain text.
func httpError(w http.ResponseWriter, code int, msg string) {
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="seatsfu"`)
	}
	if code == http.StatusServiceUnavailable || (code == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "") {
		w.Header().Set("Retry-After", retryAfter)
	}
	http.Error(w, msg, code)
}

// authorize checks the bearer token and that it is for the path's room.
// Every refusal is 401 and happens before anything else looks at the
// request.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) (token.Identity, bool) {
	raw := token.FromRequest(r)
	if raw == "" {
		httpError(w, http.StatusUnauthorized, "missing bearer token")
		return token.Identity{}, false
	}
	id, err := token.Verify(s.cfg.Secret, raw)
	if err != nil {
		httpError(w, http.StatusUnauthorized, "invalid token")
		return token.Identity{}, false
	}
	if id.Room != r.PathValue("room") {
		httpError(w, http.StatusUnauthorized, "the token is for another room")
		return token.Identity{}, false
	}
	return id, true
}

// readBody checks the content type and reads at most maxSDPBody bytes:
// 415 for another type (parameters such as charset are tolerated), 413
// beyond the limit, 400 when empty.
func readBody(w http.ResponseWriter, r *http.Request, want string) (string, bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != want {
		httpError(w, http.StatusUnsupportedMediaType, "Content-Type must be "+want)
		return "", false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSDPBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpError(w, http.StatusRequestEntityTooLarge, "body over "+strconv.Itoa(maxSDPBody)+" bytes")
			return "", false
		}
		httpError(w, http.StatusBadRequest, "cannot read body")
		return "", false
	}
	if len(body) == 0 {
		httpError(w, http.StatusBadRequest, "empty body")
		return "", false
	}
	return string(body), true
}

// statusOf maps a refusal from the seat controller or the sfu to a status:
// the RFCs' codes where they name one, the nearest HTTP meaning elsewhere.
func statusOf(err error) int {
	switch {
	case errors.Is(err, sfu.ErrTooManyMLines), errors.Is(err, sfu.ErrUnsupportedCodec):
		// Well-formed, but not something this server can take.
		return http.StatusUnprocessableEntity
	case errors.Is(err, sfu.ErrBadSDP), errors.Is(err, seat.ErrSeatIndexInvalid),
		errors.Is(err, seat.ErrInvalidParams):
		return http.StatusBadRequest
	case errors.Is(err, sfu.ErrPublishForbidden), errors.Is(err, seat.ErrPermission),
		errors.Is(err, seat.ErrBanned):
		return http.StatusForbidden
	case errors.Is(err, seat.ErrRoomNotFound):
		return http.StatusNotFound
	case errors.Is(err, seat.ErrRoomFull), overloaded(err):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrTooManyPlayers):
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// allowPost spends one token of the client IP's POST budget; a client out
// of tokens gets 429 with the seconds until the next one.
func (s *Server) allowPost(w http.ResponseWriter, r *http.Request) bool {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	wait := s.limiters.take(ip, s.cfg.Clock.Now())
	if wait == 0 {
		return true
	}
	secs := int((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	httpError(w, http.StatusTooManyRequests, "too many requests")
	return false
}

// ipLimiters is the bounded table of per-IP POST token buckets.
type ipLimiters struct {
	mu   sync.Mutex
	byIP map[string]*rate.Limiter
}

func newIPLimiters() *ipLimiters { return &ipLimiters{byIP: make(map[string]*rate.Limiter)} }

// take spends one token of ip's bucket at now and returns 0, or how long
// until a token is available.
func (l *ipLimiters) take(ip string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.byIP[ip]
	if lim == nil {
		if len(l.byIP) >= maxLimiters {
			l.sweep(now)
		}
		lim = rate.NewLimiter(postRate, postBurst)
		l.byIP[ip] = lim
	}
	if lim.AllowN(now, 1) {
		return 0
	}
	res := lim.ReserveN(now, 1)
	wait := res.DelayFrom(now)
	res.CancelAt(now)
	return max(wait, time.Millisecond)
}

// sweep forgets the buckets that are full again (their clients went
// quiet); if every client is busy, the table starts over rather than grow.
func (l *ipLimiters) sweep(now time.Time) {
	for ip, lim := range l.byIP {
		if lim.TokensAt(now) >= postBurst {
			delete(l.byIP, ip)
		}
	}
	if len(l.byIP) >= maxLimiters {
		clear(l.byIP)
	}
}

// newID returns 128 random bits, hex-encoded: session ids and ETags that
// cannot be guessed.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// validSessionID reports whether v looks like a newID (cheap refusal of
// junk before the map is consulted).
func validSessionID(v string) bool {
	if len(v) != 32 {
		return false
	}
	return strings.Trim(v, "0123456789abcdef") == ""
}
