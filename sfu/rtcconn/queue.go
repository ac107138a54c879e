package rtcconn

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// queue is the read side of a packet conn fed by the demux: a bounded
// queue of datagram copies, read with net.Conn's deadline semantics (Pion's
// readers cancel a read by moving its deadline).
type queue struct {
	q    chan datagram
	free *sync.Pool

	mu       sync.Mutex
	closed   bool
	done     chan struct{}
	deadline time.Time
	wake     chan struct{} // the deadline moved
}

type datagram struct {
	b    *[]byte
	n    int
	addr netip.AddrPort
}

var buffers = sync.Pool{New: func() any { b := make([]byte, maxDatagram); return &b }}

func newQueue(size int) *queue {
	return &queue{q: make(chan datagram, size), free: &buffers, done: make(chan struct{}), wake: make(chan struct{}, 1)}
}

// push queues a copy of b; false when the queue is full or closed (the
// datagram is dropped, as a full socket buffer would).
func (p *queue) push(b []byte, addr netip.AddrPort) bool {
	select {
	case <-p.done:
		return false
	default:
	}
	buf := p.free.Get().(*[]byte)
	n := copy(*buf, b)
	select {
	case p.q <- datagram{b: buf, n: n, addr: addr}:
		return true
	default:
		p.free.Put(buf)
		return false
	}
}

func (p *queue) read(b []byte) (int, netip.AddrPort, error) {
	for {
		p.mu.Lock()
		dl, closed := p.deadline, p.closed
		p.mu.Unlock()
		if closed {
			return 0, netip.AddrPort{}, net.ErrClosed
		}
		n, addr, err, again := p.wait(b, dl)
		if !again {
			return n, addr, err
		}
	}
}

func (p *queue) wait(b []byte, dl time.Time) (n int, addr netip.AddrPort, err error, again bool) {
	var timeout <-chan time.Time
	if !dl.IsZero() {
		d := time.Until(dl)
		if d <= 0 {
			return 0, netip.AddrPort{}, os.ErrDeadlineExceeded, false
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case d := <-p.q:
		n := copy(b, (*d.b)[:d.n])
		p.free.Put(d.b)
		return n, d.addr, nil, false
	case <-p.done:
		return 0, netip.AddrPort{}, net.ErrClosed, false
	case <-timeout:
		return 0, netip.AddrPort{}, os.ErrDeadlineExceeded, false
	case <-p.wake:
		return 0, netip.AddrPort{}, nil, true
	}
}

// shut makes reads fail and drops what is queued.
func (p *queue) shut() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.done)
	}
	p.mu.Unlock()
	for {
		select {
		case d := <-p.q:
			p.free.Put(d.b)
		default:
			return
		}
	}
}

func (p *queue) setReadDeadline(t time.Time) {
	p.mu.Lock()
	p.deadline = t
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}
