package rtcconn

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/pion/stun/v4"
)

// Defaults of Config.
const (
	DefaultPionQueue       = 1024
	DefaultConsentInterval = 2 * time.Second
	DefaultConsentTimeout  = 10 * time.Second
	DefaultDTLSLinger      = 5 * time.Second
	DefaultConnectTimeout  = 30 * time.Second
	tick                   = 100 * time.Millisecond
	maxDatagram            = 1500 + 64
	maxAddrsPerViewer      = 8
)

// Config is the demultiplexer's settings; zero values take the defaults.
type Config struct {
	// PionQueue bounds the datagrams waiting for Pion's UDP mux; past it
	// they are dropped (counted), like a full socket buffer would.
	PionQueue int
	// ConsentInterval is how often a viewer's consent is checked;
	// ConsentTimeout how long without a consent response closes it
	// (RFC 7675 §5.1; shorter than its 30 s so a vanished viewer stops
	// costing within seconds, like the Pion path's ICE timeouts).
	ConsentInterval, ConsentTimeout time.Duration
	// DTLSLinger is how long a connected viewer's DTLS stays up when no
	// SRTCP arrives to prove the viewer finished its handshake. Short is
	// safe: a retransmission after it gets the kept last flight (dtls.go).
	DTLSLinger time.Duration
	// ConnectTimeout closes a viewer ICE did not nominate an address for.
	ConnectTimeout time.Duration
	// Certificate is the node's DTLS certificate; one is made when nil.
	Certificate *tls.Certificate
	// Handshakes is how many viewers' DTLS handshakes run at once (0:
	// HandshakeLimit's default); HandshakeQueue how many wait (gate.go).
	Handshakes, HandshakeQueue int
	// TCPUnsent bounds what a viewer's ICE-TCP socket holds unsent, in
	// bytes; TCPWriteTimeout how long one write waits (tcp.go).
	TCPUnsent       int
	TCPWriteTimeout time.Duration
	// Outbox, when set, carries a connected viewer's UDP datagrams (outbox.go).
	Outbox Outbox
	// Metrics, when set, counts what the transport does.
	Metrics *Metrics
}

func (c *Config) defaults() {
	if c.PionQueue <= 0 {
		c.PionQueue = DefaultPionQueue
	}
	if c.ConsentInterval <= 0 {
		c.ConsentInterval = DefaultConsentInterval
	}
	if c.ConsentTimeout <= 0 {
		c.ConsentTimeout = DefaultConsentTimeout
	}
	if c.DTLSLinger <= 0 {
		c.DTLSLinger = DefaultDTLSLinger
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.TCPUnsent <= 0 {
		c.TCPUnsent = DefaultTCPUnsent
	}
	if c.TCPWriteTimeout <= 0 {
		c.TCPWriteTimeout = DefaultTCPWriteTimeout
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics()
	}
	c.Handshakes, c.HandshakeQueue = HandshakeLimit(c.Handshakes), cmp.Or(c.HandshakeQueue, DefaultHandshakeQueue)
}

// ErrClosed is returned once the mux or a transport is closed.
var ErrClosed = errors.New("rtcconn: closed")

// Mux owns the media socket's reads: one read loop, one timer loop, for
// every viewer of the node.
type Mux struct {
	conn *net.UDPConn
	cfg  Config
	pion *pionConn
	now  func() time.Time // the timer loop's clock; tests step it
	cert tls.Certificate
	fp   string // the certificate's a=fingerprint value

	mu      sync.RWMutex
	byUfrag map[string]*Transport
	byAddr  map[netip.AddrPort]*Transport
	closed  bool
	tcp     *tcpSplit // ServeTCP's; nil without ICE-TCP
	gate    *gate     // the viewers' DTLS handshakes take turns (gate.go)

	stop chan struct{}
	wg   sync.WaitGroup // the two loops and DTLS handshakes
}

// NewMux starts the read and timer loops on conn.
func NewMux(conn *net.UDPConn, cfg Config) (*Mux, error) {
	cfg.defaults()
	var cert tls.Certificate
	if cfg.Certificate != nil {
		cert = *cfg.Certificate
	} else {
		var err error
		if cert, err = NewCertificate(); err != nil {
			return nil, fmt.Errorf("rtcconn: certificate: %w", err)
		}
	}
	fp, err := Fingerprint(cert)
	if err != nil {
		return nil, fmt.Errorf("rtcconn: certificate: %w", err)
	}
	m := &Mux{
		conn: conn, cfg: cfg, now: time.Now, cert: cert, fp: fp,
		byUfrag: map[string]*Transport{}, byAddr: map[netip.AddrPort]*Transport{},
		stop: make(chan struct{}),
	}
	m.pion = newPionConn(conn, cfg.PionQueue, cfg.Metrics)
	m.gate = newGate(cfg.Handshakes, cfg.HandshakeQueue, cfg.Metrics)
	m.wg.Add(2)
	go m.readLoop()
	go m.timerLoop()
	return m, nil
}

// Fingerprint is the answer's a=fingerprint value ("sha-256 AB:…").
func (m *Mux) Fingerprint() string { return m.fp }

// Metrics is what the mux counts.
func (m *Mux) Metrics() *Metrics { return m.cfg.Metrics }

// PionConn is what Pion's UDP mux must read instead of the socket: every
// datagram no viewer transport claimed, unchanged. Its writes go straight
// to the socket.
func (m *Mux) PionConn() net.PacketConn { return m.pion }

// Close stops both loops and closes every transport. The socket stays
// open (its owner closes it).
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	ts := make([]*Transport, 0, len(m.byUfrag))
	for _, t := range m.byUfrag {
		ts = append(ts, t)
	}
	m.mu.Unlock()
	for _, t := range ts {
		t.close(ErrClosed)
	}
	close(m.stop)
	_ = m.conn.SetReadDeadline(time.Now()) // unblocks the read loop
	m.mu.RLock()
	split := m.tcp
	m.mu.RUnlock()
	if split != nil {
		_ = split.Close() // ends the accept loop; the viewers' readers end with their transports
	}
	m.wg.Wait()
	m.pion.shut()
	return nil
}

func (m *Mux) readLoop() {
	defer m.wg.Done()
	buf := make([]byte, maxDatagram)
	for {
		n, addr, err := m.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			select {
			case <-m.stop:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			continue // ICMP errors surface here on Linux: not fatal
		}
		m.route(buf[:n], canonical(addr))
	}
}

// route hands one datagram to its viewer or to Pion (RFC 7983's first-byte
// ranges tell STUN, DTLS and SRTP apart).
func (m *Mux) route(b []byte, addr netip.AddrPort) {
	m.mu.RLock()
	t := m.byAddr[addr]
	m.mu.RUnlock()
	if t == nil && len(b) > 0 && b[0] < 4 && stun.IsMessage(b) {
		t = m.viewerOfRequest(b)
	}
	if t == nil {
		m.pion.push(b, addr)
		return
	}
	t.receive(b, Path{Addr: addr})
}

// viewerOfRequest is the viewer whose ufrag a STUN request's USERNAME
// names ("ourUfrag:theirUfrag", RFC 8445 §7.2.2), nil for anything else.
func (m *Mux) viewerOfRequest(b []byte) *Transport {
	var msg stun.Message
	msg.Raw = b
	if err := msg.Decode(); err != nil || msg.Type != stun.BindingRequest {
		return nil
	}
	u, err := msg.Get(stun.AttrUsername)
	if err != nil {
		return nil
	}
	for i, c := range u {
		if c == ':' {
			m.mu.RLock()
			t := m.byUfrag[string(u[:i])]
			m.mu.RUnlock()
			return t
		}
	}
	return nil
}

// learn maps addr to t (a check from it succeeded); a viewer keeps its
// newest maxAddrsPerViewer addresses, so the map stays bounded.
func (m *Mux) learn(t *Transport, addr netip.AddrPort) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || t.removed {
		return false
	}
	if o := m.byAddr[addr]; o != nil && o != t {
		return false // another viewer's: a NAT reusing a mapping; its consent will end
	}
	if _, ok := m.byAddr[addr]; ok {
		return true
	}
	if len(t.addrs) == maxAddrsPerViewer {
		delete(m.byAddr, t.addrs[0])
		t.addrs = t.addrs[1:]
	}
	t.addrs = append(t.addrs, addr)
	m.byAddr[addr] = t
	return true
}

func (m *Mux) register(t *Transport) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if _, dup := m.byUfrag[t.p.LocalUfrag]; dup {
		return errors.New("rtcconn: ufrag in use")
	}
	m.byUfrag[t.p.LocalUfrag] = t
	m.cfg.Metrics.Viewers.Inc()
	return nil
}

func (m *Mux) unregister(t *Transport) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t.removed {
		return
	}
	t.removed = true
	delete(m.byUfrag, t.p.LocalUfrag)
	for _, a := range t.addrs {
		if m.byAddr[a] == t {
			delete(m.byAddr, a)
		}
	}
	m.cfg.Metrics.Viewers.Dec()
}

// timerLoop drives every viewer's consent checks and DTLS lifetime: one
// goroutine for the node, not one per viewer.
func (m *Mux) timerLoop() {
	defer m.wg.Done()
	tk := time.NewTicker(tick)
	defer tk.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-tk.C:
			m.sweep(m.now())
		}
	}
}

func (m *Mux) sweep(now time.Time) {
	m.mu.RLock()
	ts := make([]*Transport, 0, len(m.byUfrag))
	for _, t := range m.byUfrag {
		ts = append(ts, t)
	}
	m.mu.RUnlock()
	for _, t := range ts {
		t.onTick(now)
	}
}

// jitter spreads consent checks over ±20 % of the interval (RFC 7675 §5.1
// randomises them so a node's checks do not go out in bursts).
func (m *Mux) jitter() time.Duration {
	d := m.cfg.ConsentInterval
	return d*4/5 + time.Duration(rand.Int64N(int64(d*2/5)+1))
}

func canonical(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}
