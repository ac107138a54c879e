package signal

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/seatsfu/seatsfu/internal/nodelink"
)

// The host's side of a relayed session (PROTOCOL.md §12). The host opens
// a WebSocket to its own /v1/rtc — in memory, with the client's token — and
// copies the session's messages to and from it: the socket is served by
// the same code as a direct one, so nothing a client may do differs with
// the node it reached. When the link drops the socket stays open for
// --link-resume: the member stays connected (no grace, no member.left)
// while the edge dials again and resumes the session.

// hostSession is one relayed session on the host.
type hostSession struct {
	lk   *links
	st   *nodelink.Stream
	peer string              // the edge's node id: only its links speak for the session
	in   chan nodelink.Frame // from the edge: messages and the close, bounded as a socket's queue

	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	expiry *time.Timer // runs while detached
}

// openHost starts the session the edge opened.
func (lk *links) openHost(l *nodelink.Link, f nodelink.Frame) {
	var p openPayload
	if json.Unmarshal(f.Payload, &p) != nil || p.Token == "" || f.Session == "" {
		_ = l.Send(closeFrame(f.Session, int(websocket.StatusPolicyViolation), "relay: bad open"))
		return
	}
	ctx, cancel := context.WithCancel(lk.ctx)
	h := &hostSession{
		lk: lk, st: nodelink.NewStream(f.Session, lk.buffer), peer: l.Peer(),
		in: make(chan nodelink.Frame, outQueue), ctx: ctx, cancel: cancel,
	}
	h.st.Attach(l, 0)
	lk.mu.Lock()
	if lk.closed || lk.hosts[f.Session] != nil || lk.edges[f.Session] != nil {
		lk.mu.Unlock()
		cancel()
		_ = l.Send(closeFrame(f.Session, int(websocket.StatusGoingAway), "relay: session refused"))
		return
	}
	lk.hosts[f.Session] = h
	lk.wg.Add(1)
	lk.mu.Unlock()
	go func() {
		defer lk.wg.Done()
		defer func() {
			cancel()
			lk.mu.Lock()
			delete(lk.hosts, f.Session)
			lk.mu.Unlock()
		}()
		h.run(p.Token)
	}()
}

// resumeHost moves a session onto the link its edge dialled after the old
// one dropped, and re-sends what the edge missed.
func (lk *links) resumeHost(l *nodelink.Link, f nodelink.Frame) {
	lk.mu.Lock()
	h := lk.hosts[f.Session]
	lk.mu.Unlock()
	ack, err := nodelink.ParseResume(f.Payload)
	if h == nil || h.peer != l.Peer() || err != nil {
		_ = l.Send(closeFrame(f.Session, int(websocket.StatusGoingAway), "the relayed session has ended"))
		return
	}
	h.mu.Lock()
	if h.expiry != nil {
		h.expiry.Stop()
		h.expiry = nil
	}
	h.mu.Unlock()
	// "resumed" first: the edge attaches on it, then the messages it
	// missed follow on the same link, in order.
	if l.Send(nodelink.Frame{Session: f.Session, Kind: frameResumed, Payload: h.st.ResumePayload()}) != nil {
		return // that link is gone too: the edge tries again
	}
	h.st.Attach(l, ack)
}

// detached starts the resume window: a session its edge does not resume in
// time ends as if its client had gone.
func (h *hostSession) detached() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.expiry != nil || h.ctx.Err() != nil {
		return
	}
	h.expiry = time.AfterFunc(h.lk.resume, func() {
		if h.st.Link() == nil {
			h.lk.resumes.WithLabelValues("lost").Inc()
			h.cancel()
		}
	})
}

// frame takes one frame from the edge (on the link's reader: no blocking).
func (h *hostSession) frame(f nodelink.Frame) {
	if f.Kind != frameClose {
		_, fresh, err := h.st.Receive(f)
		if err != nil {
			h.cancel()
			return
		}
		if !fresh {
			return
		}
	}
	select {
	case h.in <- f:
	default:
		h.cancel() // the edge sends faster than this node serves: drop it
	}
}

// run serves the session until either end closes it.
func (h *hostSession) run(raw string) {
	c := h.lk.c
	dctx, cancel := context.WithTimeout(h.ctx, c.srv.cfg.Limits.JoinTimeout)
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+raw)
	hdr.Set(relayedHeader, h.peer)
	conn, resp, err := websocket.Dial(dctx, h.lk.memURL(), &websocket.DialOptions{
		HTTPHeader: hdr,
		HTTPClient: &http.Client{Transport: &http.Transport{DialContext: h.lk.mem.dial}},
	})
	cancel()
	if err != nil {
		code, reason := websocket.StatusGoingAway, "server shutdown"
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			code, reason = websocket.StatusPolicyViolation, "invalid token"
		}
		_ = h.st.Control(frameClose, closePayload{Code: int(code), Reason: reason})
		return
	}
	conn.SetReadLimit(-1) // the host's own frames: bounded where they are made
	// As on the edge: no operation on conn uses h.ctx, so a close code is
	// always sent, never a dropped connection.
	readerDone := make(chan struct{})
	go func() { // host → edge; ends when conn closes
		defer close(readerDone)
		for {
			typ, data, err := conn.Read(context.Background())
			if err != nil {
				code, reason := websocket.StatusGoingAway, "relay ended"
				var ce websocket.CloseError
				if errors.As(err, &ce) {
					code, reason = ce.Code, ce.Reason
				}
				if h.ctx.Err() == nil {
					_ = h.st.Control(frameClose, closePayload{Code: int(closeCode(code)), Reason: reason})
				}
				h.cancel()
				return
			}
			if typ == websocket.MessageText {
				err = h.st.Send(string(data), nil)
			} else {
				err = h.st.Send("", data)
			}
			if err != nil { // the edge is too far behind to be resumed
				h.cancel()
			}
		}
	}()
	code, reason := websocket.StatusGoingAway, "the relay link was lost"
	for done := false; !done; {
		select {
		case <-h.ctx.Done():
			done = true
		case f := <-h.in:
			if f.Kind == frameClose {
				var p closePayload
				_ = json.Unmarshal(f.Payload, &p)
				code, reason = closeCode(websocket.StatusCode(p.Code)), p.Reason
				h.cancel()
				done = true
				break
			}
			var m nodelink.Msg
			if json.Unmarshal(f.Payload, &m) != nil {
				continue
			}
			typ, data := websocket.MessageText, []byte(m.Text)
			if m.Bin != nil {
				typ, data = websocket.MessageBinary, m.Bin
			}
			wctx, wcancel := context.WithTimeout(context.Background(), writeTimeout)
			err := conn.Write(wctx, typ, data)
			wcancel()
			if err != nil {
				h.cancel()
				done = true
			}
		}
	}
	_ = conn.Close(code, truncate(reason, 120))
	_ = conn.CloseNow()
	<-readerDone
}

// memURL is what a host session dials: this node's own /v1/rtc, named
// (the Host header) by its public URL, so the session's rtc.iceServers
// name this node as a direct client's would. The connection itself is the
// in-memory listener's, whatever the name.
func (lk *links) memURL() string {
	host := "relay"
	if u, err := url.Parse(lk.c.self.HTTPAddr); err == nil && u.Host != "" {
		host = u.Host
	}
	return "ws://" + host + "/v1/rtc"
}
