package impair

import (
	"net"
	"sync"
	"syscall"
)

// TCPRelay forwards TCP connections from clients to one target and can
// stall the target → client direction: it stops reading what the target
// sends, so the target's socket buffer fills and its writes wait, as they
// do for a viewer behind a link that stopped draining. The target-side
// sockets ask for small buffers so that happens within a few kilobytes.
type TCPRelay struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	stalled bool
	resume  chan struct{} // closed when a stall ends
	conns   []net.Conn
	closed  bool

	wg sync.WaitGroup
}

// stallBuffer is the receive and send buffer asked for the relay's
// target-side sockets (the kernel doubles it and keeps a minimum).
const stallBuffer = 4096

// NewTCP starts a relay listening on 127.0.0.1 (a free port) and forwarding
// to target (host:port).
func NewTCP(target string) (*TCPRelay, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &TCPRelay{ln: ln, target: target, resume: make(chan struct{})}
	r.wg.Add(1)
	go r.accept()
	return r, nil
}

// Addr is where clients connect.
func (r *TCPRelay) Addr() *net.TCPAddr { return r.ln.Addr().(*net.TCPAddr) }

// Stall stops (on) or restarts (off) reading from the target.
func (r *TCPRelay) Stall(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || on == r.stalled {
		return
	}
	r.stalled = on
	if !on {
		close(r.resume)
		r.resume = make(chan struct{})
	}
}

// wait returns once the target direction is not stalled, or false when the
// relay closed.
func (r *TCPRelay) wait() bool {
	for {
		r.mu.Lock()
		stalled, resume, closed := r.stalled, r.resume, r.closed
		r.mu.Unlock()
		if closed {
			return false
		}
		if !stalled {
			return true
		}
		<-resume
	}
}

// Close stops accepting, closes every connection and waits for the relay's
// goroutines.
func (r *TCPRelay) Close() error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.resume) // a stalled copier sees closed and exits
		for _, c := range r.conns {
			_ = c.Close()
		}
	}
	r.mu.Unlock()
	err := r.ln.Close()
	r.wg.Wait()
	return err
}

func (r *TCPRelay) accept() {
	defer r.wg.Done()
	for {
		client, err := r.ln.Accept()
		if err != nil {
			return
		}
		d := net.Dialer{Control: SmallBuffers}
		up, err := d.Dial("tcp4", r.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		if !r.track(client, up) {
			return
		}
		r.wg.Add(2)
		go r.copy(up, client, false)
		go r.copy(client, up, true)
	}
}

// track adds a pair of connections to close with the relay; false when it
// closed already (both are closed then).
func (r *TCPRelay) track(a, b net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		_, _ = a.Close(), b.Close()
		return false
	}
	r.conns = append(r.conns, a, b)
	return true
}

// copy forwards from src to dst until either ends; stallable is the
// target → client direction.
func (r *TCPRelay) copy(dst, src net.Conn, stallable bool) {
	defer r.wg.Done()
	defer func() { _, _ = dst.Close(), src.Close() }()
	buf := make([]byte, 2048)
	for {
		if stallable && !r.wait() {
			return
		}
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or closed: the other copier ends with it
		}
	}
}

// SmallBuffers is a net.Dialer Control asking for stallBuffer-sized
// receive and send buffers, so a peer that stops reading shuts the window
// within a few kilobytes.
func SmallBuffers(_, _ string, rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		if serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, stallBuffer); serr == nil {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, stallBuffer)
		}
	}); err != nil {
		return err
	}
	return serr
}
