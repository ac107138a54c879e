package signaltest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// Conn is a raw JSON-RPC client for tests: it sends requests, matches
// responses by id and records every notification in arrival order.
type Conn struct {
	WS *websocket.Conn

	mu      sync.Mutex
	nextID  int
	pending map[string]chan Response
	notes   []Notification
	changed chan struct{} // closed and replaced whenever notes grows or the socket ends
	err     error         // why the socket ended, once it has
	discard bool          // drop notifications instead of keeping them (benchmarks)

	readerDone chan struct{}
}

// Response is a server response (a frame without a method). Error is nil
// on success.
type Response = proto.Frame

// RPCError is the protocol's error object.
type RPCError = proto.Error

// Notification is a server notification as it arrived.
type Notification struct {
	Method string
	Params json.RawMessage
	At     time.Time // when it arrived
}

// Dial opens a signalling socket with raw as the bearer token. On a refused
// upgrade the error says the HTTP status.
func (e *Env) Dial(ctx context.Context, raw string) (*Conn, error) {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+raw)
	ws, resp, err := websocket.Dial(ctx, e.WSURL, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial: HTTP %d: %w", resp.StatusCode, err)
		}
		return nil, err
	}
	ws.SetReadLimit(1 << 20)
	return NewConn(ws), nil
}

// NewConn wraps an open socket and starts its reader, which ends when the
// socket closes (Close waits for it).
func NewConn(ws *websocket.Conn) *Conn {
	c := &Conn{WS: ws, pending: make(map[string]chan Response), changed: make(chan struct{}), readerDone: make(chan struct{})}
	go c.read()
	return c
}

func (c *Conn) read() {
	defer close(c.readerDone)
	for {
		_, data, err := c.WS.Read(context.Background())
		if err != nil {
			c.mu.Lock()
			c.err = err
			for id, ch := range c.pending {
				close(ch)
				delete(c.pending, id)
			}
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
			return
		}
		var f proto.Frame
		if json.Unmarshal(data, &f) != nil {
			continue
		}
		c.mu.Lock()
		if f.Method != "" && !c.discard {
			c.notes = append(c.notes, Notification{Method: f.Method, Params: f.Params, At: time.Now()})
			close(c.changed)
			c.changed = make(chan struct{})
		} else if ch, ok := c.pending[string(f.ID)]; ok {
			delete(c.pending, string(f.ID))
			ch <- f
		}
		c.mu.Unlock()
	}
}

// Call sends a request and waits for its response. A JSON-RPC error comes
// back as *RPCError.
func (c *Conn) Call(ctx context.Context, method string, params any, result any) error {
	if params == nil {
		params = struct{}{}
	}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return c.err
	}
	c.nextID++
	id := c.nextID
	ch := make(chan Response, 1)
	c.pending[strconv.Itoa(id)] = ch // the raw id as the server echoes it
	c.mu.Unlock()

	frame, err := json.Marshal(proto.Call{JSONRPC: proto.Version, ID: strconv.AppendInt(nil, int64(id), 10), Method: method, Params: params})
	if err != nil {
		return err
	}
	if err := c.WS.Write(ctx, websocket.MessageText, frame); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case r, ok := <-ch:
		if !ok {
			return c.Err()
		}
		if r.Error != nil {
			return r.Error
		}
		if result != nil {
			return json.Unmarshal(r.Result, result)
		}
		return nil
	}
}

// Req is one request of a Pipeline.
type Req struct {
	Method string
	Params any
}

// Pipeline writes reqs back to back, each without waiting for the one
// before it to be answered, and returns their responses in the same order:
// what a client may do, since a socket's requests are handled in order
// (PROTOCOL.md §3). A JSON-RPC error is a response here, not an error.
func (c *Conn) Pipeline(ctx context.Context, reqs ...Req) ([]Response, error) {
	frames := make([][]byte, len(reqs))
	waits := make([]chan Response, len(reqs))
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	for i, r := range reqs {
		params := r.Params
		if params == nil {
			params = struct{}{}
		}
		c.nextID++
		id := strconv.AppendInt(nil, int64(c.nextID), 10)
		f, err := json.Marshal(proto.Call{JSONRPC: proto.Version, ID: id, Method: r.Method, Params: params})
		if err != nil {
			c.mu.Unlock()
			return nil, err
		}
		frames[i], waits[i] = f, make(chan Response, 1)
		c.pending[string(id)] = waits[i]
	}
	c.mu.Unlock()
	for _, f := range frames {
		if err := c.WS.Write(ctx, websocket.MessageText, f); err != nil {
			return nil, err
		}
	}
	out := make([]Response, len(reqs))
	for i, ch := range waits {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s's response: %w", reqs[i].Method, ctx.Err())
		case r, ok := <-ch:
			if !ok {
				return nil, c.Err()
			}
			out[i] = r
		}
	}
	return out, nil
}

// Send writes a raw frame (tests of bad input).
func (c *Conn) Send(ctx context.Context, frame []byte) error {
	return c.WS.Write(ctx, websocket.MessageText, frame)
}

// SendRaw writes a raw text frame whose response carries the raw id (as
// the server will echo it: `"x"`, `7` or `null`) and waits for that
// response.
func (c *Conn) SendRaw(ctx context.Context, id string, frame []byte) (Response, error) {
	return c.Exchange(ctx, websocket.MessageText, id, frame)
}

// Exchange is SendRaw for any frame type.
func (c *Conn) Exchange(ctx context.Context, typ websocket.MessageType, id string, frame []byte) (Response, error) {
	ch := make(chan Response, 1)
	c.mu.Lock()
	c.pending[id] = ch
	c.mu.Unlock()
	if err := c.WS.Write(ctx, typ, frame); err != nil {
		return Response{}, err
	}
	select {
	case <-ctx.Done():
		return Response{}, ctx.Err()
	case r, ok := <-ch:
		if !ok {
			return Response{}, c.Err()
		}
		return r, nil
	}
}

// Wait returns the first notification of method that match accepts (nil
// accepts any), received so far or arriving before ctx ends.
func (c *Conn) Wait(ctx context.Context, method string, match func(json.RawMessage) bool) (Notification, error) {
	for {
		c.mu.Lock()
		for _, n := range c.notes {
			if n.Method == method && (match == nil || match(n.Params)) {
				c.mu.Unlock()
				return n, nil
			}
		}
		changed, err := c.changed, c.err
		c.mu.Unlock()
		if err != nil {
			return Notification{}, fmt.Errorf("socket ended waiting for %s: %w", method, err)
		}
		select {
		case <-ctx.Done():
			return Notification{}, fmt.Errorf("waiting for %s: %w", method, ctx.Err())
		case <-changed:
		}
	}
}

// DiscardNotifications stops keeping notifications (and forgets those kept),
// so a long benchmark does not grow without bound.
func (c *Conn) DiscardNotifications() {
	c.mu.Lock()
	c.discard, c.notes = true, nil
	c.mu.Unlock()
}

// Notes returns a copy of every notification so far.
func (c *Conn) Notes() []Notification {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Notification(nil), c.notes...)
}

// Count counts the notifications of method so far.
func (c *Conn) Count(method string) int {
	n := 0
	for _, x := range c.Notes() {
		if x.Method == method {
			n++
		}
	}
	return n
}

// Closed waits until the server closed the socket and returns the close
// status (-1 when it ended without a close frame).
func (c *Conn) Closed(ctx context.Context) (websocket.StatusCode, error) {
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-c.readerDone:
		return websocket.CloseStatus(c.Err()), nil
	}
}

// Err is why the socket ended, or nil while it is open.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the socket and waits for the reader.
func (c *Conn) Close() {
	_ = c.WS.CloseNow()
	<-c.readerDone
}

// IsReason reports whether err is a JSON-RPC error with that reason.
func IsReason(err error, reason string) bool {
	var re *RPCError
	return errors.As(err, &re) && string(re.Data.Reason) == reason
}
