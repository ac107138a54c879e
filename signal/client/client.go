package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// Defaults of the options.
const (
	DefaultQueueSize = 1024
	DefaultEventLog  = 1024
	// readLimit bounds one incoming frame. The server's own limit (64 KiB)
	// is for what clients send; a room.members page of 100 users with long
	// avatars may be larger, so the client accepts more.
	readLimit    = 1 << 20
	writeTimeout = 10 * time.Second
)

// Option configures Dial.
type Option func(*options)

type options struct {
	httpClient   *http.Client
	logger       *slog.Logger
	queueSize    int
	eventLog     int
	tokenInQuery bool
}

// WithHTTPClient sets the HTTP client used for the upgrade.
func WithHTTPClient(h *http.Client) Option { return func(o *options) { o.httpClient = h } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithQueueSize bounds the notifications waiting for listeners (see the
// package comment for what happens when it fills).
func WithQueueSize(n int) Option { return func(o *options) { o.queueSize = n } }

// WithEventLog bounds the event log NextEvent and Events read (default
// DefaultEventLog entries, the oldest overwritten first). A negative n
// disables the log, which saves its memory in load generators that only use
// listeners; 0 keeps the default.
func WithEventLog(n int) Option { return func(o *options) { o.eventLog = n } }

// WithTokenInQuery sends the token as ?token= instead of an Authorization
// header (for environments that cannot set upgrade headers, like browsers).
func WithTokenInQuery() Option { return func(o *options) { o.tokenInQuery = true } }

// Client is one signalling connection. Its methods are safe for concurrent
// use.
type Client struct {
	conn   *websocket.Conn
	logger *slog.Logger
	nextID atomic.Int64

	mu      sync.Mutex
	pending map[int64]*pendingCall
	st      state
	// iceServers is the last snapshot's rtc.iceServers (rtc.go).
	iceServers []proto.ICEServer
	lis        listeners
	events     eventLog
	reason     error // why the socket ended (or will end), first cause wins

	queue          chan Event // reader → dispatcher
	done           chan struct{}
	readerDone     chan struct{}
	dispatcherDone chan struct{}
	closeOnce      sync.Once
}

// pendingCall is one call waiting for its answer. The table holds one per
// call in flight (abandoned ones included until the server answers, which it
// always does, or the socket ends), so it is bounded by the caller's own
// concurrency.
type pendingCall struct {
	done chan response // buffered: the reader never blocks on it
	// onOK updates the store from a successful result. The reader runs it
	// under mu in wire order, even when the caller stopped waiting, so the
	// store never misses a change the server made.
	onOK func(result json.RawMessage)
}

type response struct {
	result json.RawMessage
	err    error
}

// Dial opens a signalling connection to wsURL (ws://host/v1/rtc) with a
// signed token. It does not join the room: call Join.
func Dial(ctx context.Context, wsURL, token string, opts ...Option) (*Client, error) {
	o := options{logger: slog.Default(), queueSize: DefaultQueueSize, eventLog: DefaultEventLog}
	for _, opt := range opts {
		opt(&o)
	}
	if o.queueSize <= 0 {
		o.queueSize = DefaultQueueSize
	}
	switch {
	case o.eventLog == 0:
		o.eventLog = DefaultEventLog
	case o.eventLog < 0:
		o.eventLog = 0
	}
	dialOpts := &websocket.DialOptions{HTTPClient: o.httpClient, HTTPHeader: http.Header{}}
	if o.tokenInQuery {
		u, err := url.Parse(wsURL)
		if err != nil {
			return nil, fmt.Errorf("client: bad url: %w", err)
		}
		q := u.Query()
		q.Set("token", token)
		u.RawQuery = q.Encode()
		wsURL = u.String()
	} else {
		dialOpts.HTTPHeader.Set("Authorization", "Bearer "+token)
	}
	conn, resp, err := websocket.Dial(ctx, wsURL, dialOpts)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, &DialError{StatusCode: resp.StatusCode, Err: err}
		}
		return nil, fmt.Errorf("client: dial: %w", err)
	}
	conn.SetReadLimit(readLimit)
	c := &Client{
		conn:           conn,
		logger:         o.logger,
		pending:        make(map[int64]*pendingCall),
		events:         newEventLog(o.eventLog),
		queue:          make(chan Event, o.queueSize),
		done:           make(chan struct{}),
		readerDone:     make(chan struct{}),
		dispatcherDone: make(chan struct{}),
	}
	go c.read()
	go c.dispatch()
	return c, nil
}

// Done is closed once the connection has ended and every call has failed.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err says why the connection ended (nil while it is open): ErrClosed,
// ErrRoomEnded, ErrKickedOut, ErrSessionReplaced, ErrSlowListener or
// ErrConnectionLost wrapping the transport error.
func (c *Client) Err() error {
	select {
	case <-c.done:
	default:
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// Close ends the connection with a normal close frame and waits for the
// client's goroutines. The server treats it like any dropped socket: a
// member keeps its seat for the reconnect grace unless it called Leave.
// Close is idempotent. Do not call it from a listener (it would wait for
// itself). A server that ignores the close frame delays Close by the
// WebSocket library's close-handshake timeout (5 s); Drop never waits.
func (c *Client) Close() error {
	c.setReason(ErrClosed)
	c.closeOnce.Do(func() {
		// An error here means the socket had already ended; nothing to do.
		_ = c.conn.Close(websocket.StatusNormalClosure, "")
	})
	<-c.readerDone
	<-c.dispatcherDone
	return nil
}

// Drop ends the connection abruptly, without a close frame, as a failing
// network would, and waits for the client's goroutines.
func (c *Client) Drop() {
	c.setReason(ErrClosed)
	_ = c.conn.CloseNow()
	<-c.readerDone
	<-c.dispatcherDone
}

// setReason records why the socket ends; the first cause wins.
func (c *Client) setReason(err error) {
	c.mu.Lock()
	if c.reason == nil {
		c.reason = err
	}
	c.mu.Unlock()
}

// Call sends one JSON-RPC request and waits for its answer. params may be
// nil (sent as {}); result may be nil (the result is discarded). A refusal
// is an *Error. If ctx ends first Call returns ctx.Err(); the server may
// still have done the work, and the client's store still applies it.
func (c *Client) Call(ctx context.Context, method string, params, result any) error {
	return c.call(ctx, method, params, result, nil)
}

func (c *Client) call(ctx context.Context, method string, params, result any, onOK func(json.RawMessage)) error {
	if err := ctx.Err(); err != nil {
		return err // do not ask the server for work nobody waits for
	}
	if params == nil {
		params = struct{}{}
	}
	id := c.nextID.Add(1)
	frame, err := json.Marshal(proto.Call{JSONRPC: proto.Version, ID: strconv.AppendInt(nil, id, 10), Method: method, Params: params})
	if err != nil {
		return fmt.Errorf("client: %s: encode params: %w", method, err)
	}
	pc := &pendingCall{done: make(chan response, 1), onOK: onOK}
	c.mu.Lock()
	select {
	case <-c.done:
		c.mu.Unlock()
		return c.Err()
	default:
	}
	c.pending[id] = pc
	c.mu.Unlock()

	if err := c.write(frame); err != nil {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return fmt.Errorf("client: %s: %w", method, err)
	}
	select {
	case r := <-pc.done:
		if r.err != nil {
			return r.err
		}
		if result != nil {
			if err := json.Unmarshal(r.result, result); err != nil {
				return fmt.Errorf("client: %s: decode result: %w", method, err)
			}
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WriteRaw sends one frame exactly as given, for testing the server's
// handling of bad input. An answer that matches no call lands in the event
// log as an Event with Method "" (see NextResponse).
func (c *Client) WriteRaw(frame []byte) error { return c.write(frame) }

func (c *Client) write(frame []byte) error {
	// The user's context is not used here: coder/websocket closes the whole
	// connection when a write's context ends mid-frame.
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	return c.conn.Write(ctx, websocket.MessageText, frame)
}

// errorOf is the SDK's form of a refusal.
func errorOf(w *proto.Error) *Error {
	return &Error{Code: w.Code, Reason: string(w.Data.Reason), Message: w.Message}
}

// read is the reader goroutine: it owns the socket's read side and ends
// when the socket does.
func (c *Client) read() {
	defer close(c.readerDone)
	var readErr error
	for {
		_, data, err := c.conn.Read(context.Background())
		if err != nil {
			readErr = err
			break
		}
		if err := c.handleFrame(data); err != nil {
			c.setReason(err)
			_ = c.conn.CloseNow()
			readErr = err
			break
		}
	}
	c.mu.Lock()
	if c.reason == nil {
		c.reason = fmt.Errorf("%w: %w", ErrConnectionLost, readErr)
	}
	reason := c.reason
	pending := c.pending
	c.pending = map[int64]*pendingCall{}
	close(c.done)
	c.events.wake()
	c.mu.Unlock()
	for _, pc := range pending {
		pc.done <- response{err: reason}
	}
	close(c.queue)
	c.logger.Debug("signalling connection ended", "reason", reason)
}

// handleFrame routes one frame; an error means the client must close.
func (c *Client) handleFrame(data []byte) error {
	var f proto.Frame
	if err := json.Unmarshal(data, &f); err != nil {
		c.logger.Warn("ignoring an unparsable frame from the server", "err", err)
		return nil
	}
	if f.Method != "" && len(f.ID) == 0 {
		return c.handleNotification(f.Method, f.Params)
	}
	id, err := strconv.ParseInt(string(f.ID), 10, 64)
	c.mu.Lock()
	defer c.mu.Unlock()
	pc, ok := c.pending[id]
	if err != nil || !ok {
		// No call waits for it: an answer to WriteRaw, or a server bug.
		ev := Event{Method: "", Params: f.Result, At: time.Now(), ID: f.ID}
		if f.Error != nil {
			ev.Err = errorOf(f.Error)
		}
		c.events.add(ev)
		return nil
	}
	delete(c.pending, id)
	if f.Error != nil {
		pc.done <- response{err: errorOf(f.Error)}
		return nil
	}
	if pc.onOK != nil {
		pc.onOK(f.Result)
	}
	pc.done <- response{result: f.Result}
	return nil
}

func (c *Client) handleNotification(method string, params json.RawMessage) error {
	ev := Event{Method: method, Params: params, At: time.Now()}
	c.mu.Lock()
	if err := c.st.apply(ev); err != nil {
		c.logger.Warn("notification with unexpected params", "method", method, "err", err)
	}
	switch method {
	case MethodRoomEnded:
		c.setReasonLocked(ErrRoomEnded)
	case MethodKickedOut:
		c.setReasonLocked(ErrKickedOut)
	case MethodSessionReplaced:
		c.setReasonLocked(ErrSessionReplaced)
	}
	c.events.add(ev)
	c.mu.Unlock()
	select {
	case c.queue <- ev:
		return nil
	default:
		return ErrSlowListener
	}
}

func (c *Client) setReasonLocked(err error) {
	if c.reason == nil {
		c.reason = err
	}
}

// dispatch is the dispatcher goroutine: it runs listeners in notification
// order and ends when the reader closes the queue.
func (c *Client) dispatch() {
	defer close(c.dispatcherDone)
	for ev := range c.queue {
		c.mu.Lock()
		ls := c.lis.snapshot()
		c.mu.Unlock()
		ls.deliver(ev, c.logger)
	}
}

// AsError returns the server's *Error inside err, if there is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
