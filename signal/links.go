package signal

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatsfu/seatsfu/internal/cluster"
	"github.com/seatsfu/seatsfu/internal/nodelink"
)

// The node links (PROTOCOL.md §12): one authenticated link per pair of
// nodes, on --node-addr, carrying every relayed session between them as
// numbered frames (internal/nodelink). This file owns the links and
// routes their frames; relay.go is the edge's side of a session (the node
// the client reached), linkhost.go the host's, api_remote.go the server
// API's calls.

// Frame kinds of the relay, beside nodelink's msg and ack.
const (
	frameOpen     = "open"     // edge → host: a client's session {token}
	frameClose    = "close"    // either way: the session ended {code, reason}
	frameResume   = "resume"   // edge → host, on a new link: {a: last message received}
	frameResumed  = "resumed"  // host → edge: {a: last message received}
	frameAPI      = "api"      // edge → host: one server API call
	frameAPIReply = "apiReply" // host → edge: its outcome
)

// Link defaults (Cluster's zero values).
const (
	DefaultLinkQueue  = nodelink.DefaultQueueLen
	DefaultLinkBuffer = 1024
	DefaultLinkResume = 10 * time.Second
)

type openPayload struct {
	Token string `json:"token"`
}

type closePayload struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

// links is a node's side of every link: the listener, the pool, and the
// relayed sessions and API calls in flight.
type links struct {
	c      *clusterEdge
	pool   *nodelink.Pool
	ln     net.Listener // --node-addr, nil when the node accepts no links
	srv    *http.Server // serves ln
	mem    *memListener // host sessions reach this node's /v1/rtc through it
	memSrv *http.Server
	buffer int
	resume time.Duration

	resumes  *prometheus.CounterVec
	apiSlots chan struct{} // forwarded API calls running (api_remote.go)

	ctx    context.Context // ends with close: every session's resume and expiry
	cancel context.CancelFunc
	wg     sync.WaitGroup // link watchers, host sessions, API calls

	mu      sync.Mutex
	watched map[*nodelink.Link]struct{}
	edges   map[string]*edgeSession
	hosts   map[string]*hostSession
	calls   map[string]chan nodelink.Frame
	closed  bool
}

func newLinks(c *clusterEdge, cfg *Cluster) (*links, error) {
	reg := c.srv.cfg.Registry
	m, err := nodelink.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	resumes := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "seatsfu", Name: "cluster_link_resumes_total",
		Help: "Relayed sessions whose node link dropped, by outcome: resumed on a new link, or lost (the client reconnects)."},
		[]string{"outcome"})
	if err := reg.Register(resumes); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	lk := &links{
		c: c, ln: cfg.Listener, buffer: cfg.LinkBuffer, resume: cfg.LinkResume, resumes: resumes,
		ctx: ctx, cancel: cancel, apiSlots: make(chan struct{}, maxAPICalls),
		watched: map[*nodelink.Link]struct{}{}, edges: map[string]*edgeSession{},
		hosts: map[string]*hostSession{}, calls: map[string]chan nodelink.Frame{},
	}
	if lk.buffer <= 0 {
		lk.buffer = DefaultLinkBuffer
	}
	if lk.resume <= 0 {
		lk.resume = DefaultLinkResume
	}
	queue := cfg.LinkQueue
	if queue <= 0 {
		queue = DefaultLinkQueue
	}
	lk.pool = nodelink.NewPool(c.node.ID(), c.srv.cfg.Secret, queue, lk.onFrame)
	lk.pool.Metrics = m
	if cfg.LinkTLS != nil {
		lk.pool.TLS = cfg.LinkTLS.Client
		if lk.ln != nil {
			lk.ln = tls.NewListener(lk.ln, cfg.LinkTLS.Server)
		}
	}
	lk.mem = newMemListener()
	lk.memSrv = &http.Server{Handler: http.HandlerFunc(c.srv.serveRTC), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = lk.memSrv.Serve(lk.mem) }() // ends with memSrv.Close
	if lk.ln != nil {
		mux := http.NewServeMux()
		mux.Handle(nodelink.Path, &nodelink.Listener{
			Self: c.node.ID(), Secret: c.srv.cfg.Secret, IsLive: c.isLive, QueueLen: queue, Metrics: m,
			OnFrame: lk.onFrame,
			OnLink: func(l *nodelink.Link) {
				lk.watch(lk.pool.Add(l))
			},
		})
		lk.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: linkErrorLog(c.srv.log)}
		go func() { _ = lk.srv.Serve(lk.ln) }() // ends with srv.Close
	}
	return lk, nil
}

// linkErrorLog carries what the link listener's HTTP server refuses
// before any handler runs — above all a TLS handshake that fails: a peer
// dialling in plain text ("client sent an HTTP request to an HTTPS
// server"), or with a certificate the cluster's CA did not sign — to the
// node's log as a warning.
func linkErrorLog(l *slog.Logger) *log.Logger {
	lg := slog.NewLogLogger(l.With("listener", "node-link").Handler(), slog.LevelWarn)
	lg.SetPrefix("node link refused: ")
	return lg
}

// isLive says whether id is a live node: the registry as last seen, else
// asked again (a node that just started is not in this node's list yet).
func (c *clusterEdge) isLive(id string) bool {
	for _, n := range c.node.Nodes() {
		if n.ID == id {
			return true
		}
	}
	ctx, cancel := context.WithTimeout(c.srv.ctx, time.Second)
	defer cancel()
	nodes, err := c.store.Nodes(ctx)
	if err != nil {
		return false
	}
	for _, n := range nodes {
		if n.ID == id {
			return true
		}
	}
	return false
}

// get returns the link to node, dialling it when there is none.
func (lk *links) get(ctx context.Context, node cluster.NodeInfo) (*nodelink.Link, error) {
	l, err := lk.pool.Get(ctx, node)
	if err != nil {
		return nil, err
	}
	lk.watch(l)
	return l, nil
}

// watch notices when l drops, once per link: its sessions then resume on
// another link (edge) or wait for the edge to bring them back (host).
func (lk *links) watch(l *nodelink.Link) {
	lk.mu.Lock()
	if _, ok := lk.watched[l]; ok || lk.closed {
		lk.mu.Unlock()
		return
	}
	lk.watched[l] = struct{}{}
	lk.wg.Add(1)
	lk.mu.Unlock()
	go func() {
		defer lk.wg.Done()
		<-l.Done()
		lk.mu.Lock()
		delete(lk.watched, l)
		var edges []*edgeSession
		for _, e := range lk.edges {
			if e.host.ID == l.Peer() {
				edges = append(edges, e)
			}
		}
		var hosts []*hostSession
		for _, h := range lk.hosts {
			if h.peer == l.Peer() {
				hosts = append(hosts, h)
			}
		}
		lk.mu.Unlock()
		for _, e := range edges {
			if e.st.Detach(l) || e.st.Link() == nil {
				e.startResume()
			}
		}
		for _, h := range hosts {
			if h.st.Detach(l) || h.st.Link() == nil {
				h.detached()
			}
		}
	}()
}

// onFrame routes one frame from any link. It runs on the link's reader:
// nothing here blocks (sessions queue, API calls get goroutines).
func (lk *links) onFrame(l *nodelink.Link, f nodelink.Frame) {
	lk.watch(l)
	switch f.Kind {
	case frameOpen:
		lk.openHost(l, f)
		return
	case frameResume:
		lk.resumeHost(l, f)
		return
	case frameAPI:
		lk.serveAPI(l, f)
		return
	case frameAPIReply:
		lk.apiReply(f)
		return
	}
	lk.mu.Lock()
	e, h := lk.edges[f.Session], lk.hosts[f.Session]
	lk.mu.Unlock()
	switch {
	case e != nil && e.host.ID == l.Peer():
		e.frame(l, f)
	case h != nil && h.peer == l.Peer():
		h.frame(f)
	case f.Kind != frameClose:
		// A session this node no longer has (it ended, or its resume
		// window passed): tell the other end, which ends it too.
		_ = l.Send(closeFrame(f.Session, 1001, "the relayed session has ended"))
	}
}

func closeFrame(session string, code int, reason string) nodelink.Frame {
	f := nodelink.Frame{Session: session, Kind: frameClose}
	f.Payload, _ = json.Marshal(closePayload{Code: code, Reason: truncate(reason, 120)})
	return f
}

// newSessionID names a relayed session or an API call: random, so no two
// nodes' ids meet on a link.
func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// close ends every link, session and call; called once the server's
// sessions have ended.
func (lk *links) close() {
	lk.mu.Lock()
	lk.closed = true
	lk.mu.Unlock()
	lk.cancel()
	if lk.srv != nil {
		_ = lk.srv.Close()
	}
	lk.pool.Close()
	_ = lk.memSrv.Close()
	lk.wg.Wait()
}

// linkClient is an HTTP client whose WebSockets to any ws://…/v1/rtc are
// served by this node's own /v1/rtc in memory: a socket for a room another
// node hosts rides this node's link to it, like a client's. For what the
// node itself must say to a host (the cascade's join, cascade.go): it
// costs the pair no connection of its own. Such a socket's rtc.subscribe
// goes to the host, never to this node's cascade (relay.go: internal).
func (c *clusterEdge) linkClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: c.links.mem.dial}}
}

// viaMemory says whether r came through the in-memory listener, that is
// from this node itself (a pipe's address; no socket from outside has it).
func viaMemory(r *http.Request) bool { return r.RemoteAddr == memPipeAddr }

// memPipeAddr is the remote address of a connection from the in-memory
// listener (net.Pipe's).
var memPipeAddr = func() string {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	return a.RemoteAddr().String()
}()

// memListener is an in-memory listener: the host serves a relayed session
// by opening a WebSocket to its own /v1/rtc through it, so a relayed
// socket gets every rule of a direct one (token, limits, expiry, pings).
type memListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newMemListener() *memListener {
	return &memListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (m *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-m.conns:
		return c, nil
	case <-m.done:
		return nil, net.ErrClosed
	}
}

func (m *memListener) Close() error {
	m.once.Do(func() { close(m.done) })
	return nil
}

func (m *memListener) Addr() net.Addr { return memAddr{} }

// dial is the in-memory transport's DialContext.
func (m *memListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case m.conns <- server:
		return client, nil
	case <-ctx.Done():
	case <-m.done:
	}
	_ = client.Close()
	_ = server.Close()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, errors.New("signal: the node is shutting down")
}

type memAddr struct{}

func (memAddr) Network() string { return "memory" }
func (memAddr) String() string  { return "relay" }
