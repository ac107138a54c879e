package nodelink

import (
	"context"
	"crypto/tls"
	"sync"
	"time"

	"github.com/seatsfu/seatsfu/internal/cluster"
)

// Pool keeps one link per peer node. Either node of a pair may dial; when
// both did at once, both nodes keep the link dialled by the smaller node
// id and close the other, so the pair settles on one link whichever
// frames were already under way (a frame on the closed one is ErrClosed
// for its sender, who sends it again over Get's link).
type Pool struct {
	self     string
	secret   []byte
	queueLen int
	onFrame  func(*Link, Frame)
	// Metrics counts the links this pool dials (set before the first Get).
	Metrics *Metrics
	// TLS, when set (before the first Get), dials every link over mutual
	// TLS (tls.go): wss:// instead of ws://.
	TLS *tls.Config

	ctx    context.Context // ends with Close, and with it every dial
	cancel context.CancelFunc
	dials  sync.WaitGroup

	mu      sync.Mutex
	links   map[string]*Link
	dialing map[string]*dial
	closed  bool
}

// NewPool makes the pool of node self; onFrame handles every frame that
// arrives on any of its links.
func NewPool(self string, secret []byte, queueLen int, onFrame func(*Link, Frame)) *Pool {
	ctx, cancel := context.WithCancel(context.Background())
	return &Pool{self: self, secret: secret, queueLen: queueLen, onFrame: onFrame, ctx: ctx, cancel: cancel,
		links: make(map[string]*Link), dialing: make(map[string]*dial)}
}

type dial struct {
	done chan struct{}
	link *Link
	err  error
}

// Get returns the link to peer, dialling it (once, however many callers
// ask at the same time) when there is none or it has closed.
func (p *Pool) Get(ctx context.Context, peer cluster.NodeInfo) (*Link, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if l := p.links[peer.ID]; l != nil && l.ctx.Err() == nil {
		p.mu.Unlock()
		return l, nil
	}
	d := p.dialing[peer.ID]
	if d == nil {
		d = &dial{done: make(chan struct{})}
		p.dialing[peer.ID] = d
		p.dials.Add(1)
		go p.dial(peer, d) // owned by the pool: Close cancels and waits for it
	}
	p.mu.Unlock()
	select {
	case <-d.done:
		return d.link, d.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// dialTimeout bounds a dial that nobody waits for any more.
const dialTimeout = 5 * time.Second

func (p *Pool) dial(peer cluster.NodeInfo, d *dial) {
	defer p.dials.Done()
	ctx, cancel := context.WithTimeout(p.ctx, dialTimeout)
	defer cancel()
	l, err := dialLink(ctx, p.url(peer), p.secret, p.self, peer.ID, p.queueLen, p.onFrame, p.Metrics, p.TLS)
	if err == nil {
		l = p.Add(l)
	}
	p.mu.Lock()
	delete(p.dialing, peer.ID)
	p.mu.Unlock()
	d.link, d.err = l, err
	close(d.done)
}

// url is peer's link endpoint.
func (p *Pool) url(peer cluster.NodeInfo) string {
	if p.TLS != nil {
		return "wss://" + peer.NodeAddr + Path
	}
	return "ws://" + peer.NodeAddr + Path
}

// Add files a link (one this node accepted, or dialled) and returns the
// pair's link: l, or the one already there when that one wins the
// tie-break (l is then closed).
func (p *Pool) Add(l *Link) *Link {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		l.Close()
		return l
	}
	old := p.links[l.peer]
	keep, drop := l, old
	if old != nil && old.ctx.Err() == nil && old.dialer < l.dialer {
		keep, drop = old, l
	}
	p.links[l.peer] = keep
	p.mu.Unlock()
	if drop != nil && drop != keep {
		drop.Close()
	}
	return keep
}

// Close closes every link and ends every dial; Get fails afterwards.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	links := p.links
	p.links = map[string]*Link{}
	p.mu.Unlock()
	p.cancel()
	p.dials.Wait()
	for _, l := range links {
		l.Close()
	}
}
