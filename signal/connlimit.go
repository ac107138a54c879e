package signal

import (
	"bufio"
	"context"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Connection caps (PROTOCOL.md §3.4): every HTTP connection is counted where
// it arrives, at the listener, against Limits.MaxConns and MaxConnsPerIP.
// A connection is in one of three zones:
//
//   - in: under both caps, served normally;
//   - over: above a cap but inside the headroom kept for probes. It may
//     fetch /healthz and /metrics; anything else gets 503 + Retry-After
//     (a WebSocket upgrade: close code 1013), and it is closed after one
//     response and within overLife whatever it does;
//   - refused: beyond the headroom too. The listener answers it itself
//     (200 for a GET /healthz, 503 otherwise) from a small bounded pool,
//     or closes it at once when the pool is busy, and never hands it to
//     the HTTP server.
//
// So an attacker holding thousands of idle sockets costs one file
// descriptor per socket for at most overLife, and /healthz keeps answering.

const (
	// maxHeaderBytes bounds a request's header block (Go's default is 1 MiB;
	// a token is at most 4 KiB).
	maxHeaderBytes = 16 << 10
	// writeTimeoutHTTP bounds writing one response (a WHIP answer waits for
	// ICE gathering, at most a few seconds).
	writeTimeoutHTTP = 30 * time.Second
	// maxHeaderWait bounds reading a request's headers, inside ReadTimeout.
	maxHeaderWait = 5 * time.Second
	// overLife is the longest an over-cap connection is read from.
	overLife = 2 * time.Second
	// refusers bounds the listener's own answers to refused connections.
	refusers = 32
	// retryAfter is the Retry-After of every over-capacity refusal, in
	// seconds.
	retryAfter = "5"
)

// headroom is how many connections above a cap still get the over zone.
func headroom(limit int) int { return max(8, limit/50) }

// HTTPServer returns the http.Server the edge must be served with: bounded
// header, body and idle times and header size, and the connection zones of
// Listen. WebSockets are hijacked, which clears the deadlines, so they are
// bounded by their pings instead.
func (s *Server) HTTPServer(h http.Handler, errorLog *log.Logger) *http.Server {
	l := s.cfg.Limits
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(maxHeaderWait, l.HTTPReadTimeout),
		ReadTimeout:       l.HTTPReadTimeout,
		WriteTimeout:      writeTimeoutHTTP,
		IdleTimeout:       l.HTTPIdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ConnContext:       connContext,
		ErrorLog:          errorLog,
	}
}

// Listen wraps ln so every connection it accepts is counted against the
// connection caps; serve it with HTTPServer. Closing the returned listener
// waits for the listener's own refusals to finish.
func (s *Server) Listen(ln net.Listener) net.Listener {
	l := s.cfg.Limits
	return &guardedListener{
		Listener: ln,
		caps:     s.caps,
		max:      l.MaxConns,
		perIP:    l.MaxConnsPerIP,
		byIP:     make(map[string]int),
		pool:     make(chan struct{}, refusers),
	}
}

type zone int

const (
	zoneIn zone = iota
	zoneOver
	zoneRefused
)

type guardedListener struct {
	net.Listener
	caps       *caps
	max, perIP int

	mu    sync.Mutex
	total int
	byIP  map[string]int

	pool     chan struct{} // refusal slots
	refusing sync.WaitGroup
}

func (l *guardedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := hostOf(c.RemoteAddr())
		z, limit := l.admit(ip)
		gc := &guardedConn{Conn: c, l: l, ip: ip, over: z != zoneIn, born: time.Now()}
		if z != zoneIn {
			l.caps.refused(limit)
		}
		if z == zoneRefused {
			l.refuse(gc)
			continue
		}
		return gc, nil
	}
}

// admit counts a new connection from ip and says its zone, and which cap
// put it outside.
func (l *guardedListener) admit(ip string) (zone, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total++
	l.byIP[ip]++
	l.caps.conns.Set(float64(l.total))
	z, limit := zoneIn, ""
	if l.max > 0 && l.total > l.max {
		z, limit = zoneOver, limitConns
		if l.total > l.max+headroom(l.max) {
			z = zoneRefused
		}
	}
	if n := l.byIP[ip]; l.perIP > 0 && n > l.perIP && z != zoneRefused {
		z, limit = zoneOver, limitConnsPerIP
		if n > l.perIP+headroom(l.perIP) {
			z = zoneRefused
		}
	}
	return z, limit
}

func (l *guardedListener) forget(ip string) {
	l.mu.Lock()
	l.total--
	if l.byIP[ip]--; l.byIP[ip] <= 0 {
		delete(l.byIP, ip)
	}
	l.caps.conns.Set(float64(l.total))
	l.mu.Unlock()
}

// refuse answers a connection beyond the headroom without the HTTP server:
// a GET /healthz still learns the process is alive, anything else gets 503.
// When every refusal slot is busy the connection is closed at once.
func (l *guardedListener) refuse(c *guardedConn) {
	select {
	case l.pool <- struct{}{}:
	default:
		_ = c.Close()
		return
	}
	l.refusing.Add(1)
	go func() {
		defer l.refusing.Done()
		defer func() { <-l.pool }()
		defer c.Close()
		_ = c.Conn.SetDeadline(time.Now().Add(time.Second))
		line, _ := bufio.NewReaderSize(c.Conn, 512).ReadString('\n')
		if strings.HasPrefix(line, "GET /healthz ") || strings.HasPrefix(line, "GET /healthz?") {
			_, _ = c.Conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n" +
				"Content-Length: 3\r\nConnection: close\r\n\r\nok\n"))
			return
		}
		_, _ = c.Conn.Write([]byte(overloadedResponse))
	}()
}

const overloadedResponse = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: " + retryAfter + "\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\nContent-Length: 14\r\nConnection: close\r\n\r\n" +
	"over capacity\n"

func (l *guardedListener) Close() error {
	err := l.Listener.Close()
	l.refusing.Wait()
	return err
}

// guardedConn gives its count back once, when closed. An over-cap
// connection's read deadlines never reach past born+overLife.
type guardedConn struct {
	net.Conn
	l    *guardedListener
	ip   string
	over bool
	born time.Time
	once sync.Once
}

func (c *guardedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.forget(c.ip) })
	return err
}

func (c *guardedConn) clamp(t time.Time) time.Time {
	if !c.over {
		return t
	}
	if end := c.born.Add(overLife); t.IsZero() || t.After(end) {
		return end
	}
	return t
}

func (c *guardedConn) SetDeadline(t time.Time) error { return c.Conn.SetDeadline(c.clamp(t)) }

func (c *guardedConn) SetReadDeadline(t time.Time) error { return c.Conn.SetReadDeadline(c.clamp(t)) }

func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

type overKey struct{}

// connContext marks the requests of an over-cap connection.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if gc, ok := c.(*guardedConn); ok && gc.over {
		return context.WithValue(ctx, overKey{}, true)
	}
	return ctx
}

// guard refuses the requests of over-cap connections, except the probes'.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if over, _ := r.Context().Value(overKey{}).(bool); over {
			w.Header().Set("Connection", "close")
			if r.URL.Path != "/healthz" && r.URL.Path != "/metrics" {
				refuseOver(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// refuseOver answers work the node has no room for: a WebSocket is
// accepted only to be closed with 1013 (try again later), as clients
// expect of a WebSocket; anything else gets 503 + Retry-After.
func refuseOver(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v1/rtc" && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		_ = conn.Close(websocket.StatusTryAgainLater, "server over capacity")
		return
	}
	overloaded(w)
}

// overloaded answers 503 with Retry-After.
func overloaded(w http.ResponseWriter) {
	w.Header().Set("Retry-After", retryAfter)
	http.Error(w, "the server is over capacity; retry in "+retryAfter+" s", http.StatusServiceUnavailable)
}
