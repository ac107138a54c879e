// Package nodelink is the one authenticated link between two seatsfu nodes
// of a cluster (PROTOCOL.md §12): a WebSocket on the --node-addr listener
// carrying frames for many relayed sessions at once. It knows nothing of
// rooms or JSON-RPC: a frame is a session id, a kind and an opaque
// payload; the relay above it gives them meaning (see internal/cluster's
// package notes).
//
// Each link has one reader and one writer goroutine, both ending when the
// link closes. Sending never blocks: frames queue up to QueueLen, and a
// link whose peer cannot keep up is closed (its sessions resume over a
// new link, as after a network break) rather than letting a slow node
// stall every room it relays.
package nodelink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Defaults and limits.
const (
	DefaultQueueLen = 4096
	// MaxFrame bounds one frame; a JSON-RPC message of the protocol is far
	// smaller (an SDP offer is the largest, a few KiB).
	MaxFrame     = 1 << 20
	writeTimeout = 5 * time.Second
)

// ErrClosed is returned by Send on a closed link, and wrapped by the
// link's Err when it was closed on purpose.
var ErrClosed = errors.New("nodelink: link closed")

// ErrOverloaded closes a link whose send queue filled up.
var ErrOverloaded = errors.New("nodelink: peer too slow, send queue full")

// Frame is one message on a link.
type Frame struct {
	Session string          `json:"s"`           // the relayed session, "" for the link itself
	Kind    string          `json:"t"`           // open, rpc, reply, note, close… (the relay's words)
	Payload json.RawMessage `json:"p,omitempty"` // opaque to the link
}

// Link is one end of a node-to-node link.
type Link struct {
	peer    string // the other node's id
	conn    *websocket.Conn
	queue   chan Frame
	onFrame func(*Link, Frame)
	dialer  string // id of the node that dialled: the pair's tie-break
	metrics *Metrics

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu  sync.Mutex
	err error
}

// newLink starts the link's reader and writer. onFrame runs on the reader
// goroutine, one frame at a time, in arrival order; it must not block for
// long (hand work off to the session's own queue).
func newLink(peer, dialer string, conn *websocket.Conn, queueLen int, onFrame func(*Link, Frame), m *Metrics) *Link {
	if queueLen <= 0 {
		queueLen = DefaultQueueLen
	}
	conn.SetReadLimit(MaxFrame)
	ctx, cancel := context.WithCancel(context.Background())
	l := &Link{peer: peer, dialer: dialer, conn: conn, queue: make(chan Frame, queueLen), onFrame: onFrame, ctx: ctx, cancel: cancel, metrics: m}
	m.opened()
	l.wg.Add(2)
	go l.read()
	go l.write()
	return l
}

// Peer is the id of the node at the other end.
func (l *Link) Peer() string { return l.peer }

// Done is closed when the link has closed.
func (l *Link) Done() <-chan struct{} { return l.ctx.Done() }

// Err says why the link closed (nil while it is open).
func (l *Link) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Send queues f without blocking. A full queue closes the link with
// ErrOverloaded; a closed link returns ErrClosed.
func (l *Link) Send(f Frame) error {
	if l.ctx.Err() != nil {
		return ErrClosed
	}
	select {
	case l.queue <- f:
		return nil
	default:
		l.fail(ErrOverloaded)
		return ErrOverloaded
	}
}

// Close closes the link and waits for its goroutines.
func (l *Link) Close() error {
	l.fail(ErrClosed)
	l.wg.Wait()
	return nil
}

// fail records the first cause and stops the link.
func (l *Link) fail(err error) {
	l.mu.Lock()
	first := l.err == nil
	if first {
		l.err = err
	}
	l.mu.Unlock()
	l.cancel()
	if first {
		l.metrics.closed(err)
	}
}

func (l *Link) read() {
	defer l.wg.Done()
	defer l.conn.CloseNow()
	for {
		typ, data, err := l.conn.Read(l.ctx)
		if err != nil {
			l.fail(fmt.Errorf("nodelink: read from %s: %w", l.peer, err))
			return
		}
		var f Frame
		if typ != websocket.MessageText || json.Unmarshal(data, &f) != nil {
			// A node that sends garbage is broken or hostile: no frame of
			// it can be trusted after that.
			l.fail(fmt.Errorf("nodelink: %s sent a frame that is not one", l.peer))
			return
		}
		l.metrics.frame("in")
		l.onFrame(l, f)
	}
}

func (l *Link) write() {
	defer l.wg.Done()
	for {
		select {
		case <-l.ctx.Done():
			_ = l.conn.Close(websocket.StatusGoingAway, "link closed")
			return
		case f := <-l.queue:
			data, err := json.Marshal(f)
			if err != nil {
				l.fail(fmt.Errorf("nodelink: encode a frame: %w", err))
				continue
			}
			ctx, cancel := context.WithTimeout(l.ctx, writeTimeout)
			err = l.conn.Write(ctx, websocket.MessageText, data)
			cancel()
			if err != nil {
				l.fail(fmt.Errorf("nodelink: write to %s: %w", l.peer, err))
				continue
			}
			l.metrics.frame("out")
		}
	}
}
