package rtcconn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/pion/stun/v4"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
)

// ICE-TCP for viewers (PROTOCOL.md §9): the node's one ICE-TCP listener is
// split like the UDP port. A connection whose first framed packet (RFC
// 4571: a two-byte length, then the packet) is a STUN request naming a
// viewer's ufrag belongs to that viewer's transport; every other goes on
// to Pion's ICE-TCP mux (the publishers') unchanged, its first packet
// replayed. A viewer's TCP connection costs one goroutine, its reader —
// only viewers whose networks block UDP take it.

const (
	// firstPacketTimeout bounds the wait for a new connection's first
	// packet (a connection that says nothing is closed).
	firstPacketTimeout = 5 * time.Second
	// maxUnsorted bounds the connections waiting for their first packet.
	maxUnsorted = 256
	// pionBacklog bounds the connections handed to Pion not yet accepted.
	pionBacklog = 64
	// DefaultTCPWriteTimeout bounds one framed write: a viewer whose TCP
	// window stays shut that long loses the packet (media is
	// loss-tolerant), and the writer goes on.
	DefaultTCPWriteTimeout = 200 * time.Millisecond
	// DefaultTCPUnsent bounds the bytes a viewer's ICE-TCP socket holds
	// that the viewer's window has not let out yet (TCP_NOTSENT_LOWAT).
	// Without it the kernel grows the send buffer up to
	// net.ipv4.tcp_wmem's maximum (4 MiB here): a stalled viewer banks
	// seconds of stale media, to be played late when its link drains, and
	// the SFU, whose writes still succeed, never sees that it is behind.
	// With it a stall shuts the socket within this much, the writes wait
	// and time out, and the viewer's queue drops and waits for a keyframe
	// like any slow viewer's. 128 KiB holds a keyframe burst; what is in
	// flight is not counted, so it does not bound the link's throughput.
	DefaultTCPUnsent = 128 << 10
)

// tcpSplit is the listener Pion's ICE-TCP mux accepts from.
type tcpSplit struct {
	m    *Mux
	ln   net.Listener
	pion chan net.Conn
	once sync.Once
	done chan struct{}

	mu       sync.Mutex
	unsorted map[net.Conn]struct{} // waiting for their first packet; closed with the split
}

// ServeTCP splits ln between the viewers' transports and Pion: it returns
// the listener to give Pion's ICE-TCP mux instead of ln. Closing either
// closes ln.
func (m *Mux) ServeTCP(ln net.Listener) net.Listener {
	s := &tcpSplit{m: m, ln: ln, pion: make(chan net.Conn, pionBacklog), done: make(chan struct{}),
		unsorted: map[net.Conn]struct{}{}}
	m.mu.Lock()
	m.tcp = s
	m.mu.Unlock()
	m.wg.Add(1)
	go s.accept()
	return s
}

func (s *tcpSplit) accept() {
	defer s.m.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.Close()
			return
		}
		if !s.hold(c) {
			_ = c.Close()
			continue
		}
		s.m.wg.Add(1)
		go s.sort(c)
	}
}

// sort reads c's first packet and gives c to its viewer or to Pion; for a
// viewer it then stays c's reader.
func (s *tcpSplit) sort(c net.Conn) {
	defer s.m.wg.Done()
	_ = c.SetReadDeadline(time.Now().Add(firstPacketTimeout))
	var hdr [2]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		s.release(c)
		_ = c.Close()
		return
	}
	first := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	_, err := io.ReadFull(c, first)
	if !s.release(c) || err != nil {
		_ = c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	var t *Transport
	if len(first) > 0 && first[0] < 4 && stun.IsMessage(first) {
		t = s.m.viewerOfRequest(first)
	}
	if t == nil {
		s.toPion(&prefixConn{Conn: c, r: io.MultiReader(bytes.NewReader(append(hdr[:], first...)), c)})
		return
	}
	ap, ok := remoteAddrPort(c)
	if !ok {
		_ = c.Close()
		return
	}
	boundUnsent(c, s.m.cfg.TCPUnsent)
	tc := &tcpConn{c: c, timeout: s.m.cfg.TCPWriteTimeout, dropped: s.m.cfg.Metrics.TCPDrops}
	if !t.addTCP(ap, tc) {
		_ = c.Close()
		return
	}
	defer t.removeTCP(ap, tc)
	path := Path{Addr: ap, TCP: true}
	t.receive(first, path)
	buf := make([]byte, 1<<16)
	for {
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(hdr[:]))
		if _, err := io.ReadFull(c, buf[:n]); err != nil {
			return
		}
		if n > 0 {
			t.receive(buf[:n], path)
		}
	}
}

func (s *tcpSplit) toPion(c net.Conn) {
	select {
	case s.pion <- c:
	case <-s.done:
		_ = c.Close()
	default:
		_ = c.Close() // Pion is that far behind: the client retries
	}
}

func (s *tcpSplit) Accept() (net.Conn, error) {
	select {
	case c := <-s.pion:
		return c, nil
	case <-s.done:
		return nil, net.ErrClosed
	}
}

// hold counts c among the connections waiting for their first packet;
// false when there are too many or the split is closed.
func (s *tcpSplit) hold(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return false
	default:
	}
	if len(s.unsorted) >= maxUnsorted {
		return false
	}
	s.unsorted[c] = struct{}{}
	return true
}

// release ends hold; false when Close took c meanwhile.
func (s *tcpSplit) release(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.unsorted[c]
	delete(s.unsorted, c)
	return ok
}

// Close closes the listener (Pion's mux closes it when it closes) and the
// connections not yet sorted.
func (s *tcpSplit) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		close(s.done)
		for c := range s.unsorted {
			_ = c.Close()
		}
		clear(s.unsorted)
		s.mu.Unlock()
		_ = s.ln.Close()
	})
	return nil
}

func (s *tcpSplit) Addr() net.Addr { return s.ln.Addr() }

// prefixConn is a connection whose first bytes were read already and are
// read again.
type prefixConn struct {
	net.Conn
	r io.Reader
}

func (p *prefixConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// tcpConn is one viewer ICE-TCP connection's write side.
type tcpConn struct {
	c       net.Conn
	mu      sync.Mutex
	buf     []byte
	tail    []byte        // the unsent end of a frame a deadline cut; goes out first
	timeout time.Duration // one write's deadline (Config.TCPWriteTimeout)
	// dropped counts the frames write dropped whole.
	dropped prometheus.Counter
}

// write sends one framed packet (RFC 4571); a write the viewer does not
// take within c.timeout is dropped whole. A deadline can fall in the
// middle of a frame, after the kernel took part of it. The stream has no
// other framing than the length prefixes, so the rest of that frame is
// kept and sent before anything else: dropping it would make the viewer
// read the next frame's bytes as this one's, and every frame after as
// garbage, for as long as the connection lasts.
func (c *tcpConn) write(b []byte) {
	if len(b) > 0xffff {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.c.SetWriteDeadline(time.Now().Add(c.timeout))
	if len(c.tail) > 0 {
		n, err := c.c.Write(c.tail)
		c.tail = c.tail[:copy(c.tail, c.tail[n:])]
		if err != nil {
			c.dropped.Inc() // b; the frame before it still owes its end
			return
		}
	}
	c.buf = append(binary.BigEndian.AppendUint16(c.buf[:0], uint16(len(b))), b...)
	switch n, err := c.c.Write(c.buf); {
	case err == nil:
	case n > 0:
		c.tail = append(c.tail, c.buf[n:]...)
	default:
		c.dropped.Inc()
	}
}

// boundUnsent sets TCP_NOTSENT_LOWAT to n on c; a kernel without the
// option keeps its own buffering, which only delays what a stall shows.
func boundUnsent(c net.Conn, n int) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, n)
	})
}

func remoteAddrPort(c net.Conn) (netip.AddrPort, bool) {
	a, ok := c.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	ap := a.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}

func (t *Transport) addTCP(ap netip.AddrPort, c *tcpConn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || len(t.tcp) >= maxAddrsPerViewer {
		return false
	}
	if old := t.tcp[ap]; old != nil {
		_ = old.c.Close()
	}
	t.tcp[ap] = c
	return true
}

func (t *Transport) removeTCP(ap netip.AddrPort, c *tcpConn) {
	t.mu.Lock()
	if t.tcp[ap] == c {
		delete(t.tcp, ap)
	}
	t.mu.Unlock()
	_ = c.c.Close()
}

func (t *Transport) closeTCP() {
	t.mu.Lock()
	conns := make([]*tcpConn, 0, len(t.tcp))
	for _, c := range t.tcp {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	for _, c := range conns {
		_ = c.c.Close()
	}
}
