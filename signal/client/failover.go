package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// FailoverConfig configures Connect.
type FailoverConfig struct {
	// URLs are the cluster's nodes (ws://host/v1/rtc), in the order to try
	// them. Any node serves any room (PROTOCOL.md §12).
	URLs []string
	// Token is the member's token; the same one serves every node.
	Token string
	// Create opens the room on the first join (owners only); reconnects
	// join without it, resuming.
	Create *CreateOptions
	// Grace is how long after a drop reconnecting goes on: the server's
	// reconnect grace (default 15 s), past which the seat is gone anyway.
	Grace time.Duration
	// Backoff is the first pause between two rounds over URLs (default
	// 100 ms), doubling up to 2 s.
	Backoff time.Duration
	// Refresh, when set, gives the node list before each round of
	// reconnects after a drop (ListNodes of any node the app knows); an
	// error or an empty list keeps the previous one. The first connect
	// uses URLs as given.
	Refresh func(ctx context.Context) ([]string, error)
	// OnConnect runs after every successful join, the first included, on
	// the failover's goroutine (the first one on Connect's): re-register
	// listeners on the new client here.
	OnConnect func(c *Client, snap proto.Snapshot)
	// Options apply to every connection.
	Options []Option
}

// Failover keeps one member joined to its room across dropped connections
// and dead nodes: when its connection is lost (not closed, kicked out,
// replaced or ended) it dials the next node of URLs, joins again — a
// resume of the same seat and requests within the grace — and goes on
// with the new client. Closing it closes the current client.
type Failover struct {
	cfg FailoverConfig

	mu     sync.Mutex
	cur    *Client
	next   int // index in URLs of the node to try after cur's
	err    error
	closed bool

	stop chan struct{}
	done chan struct{}
}

const (
	defaultFailoverGrace   = 15 * time.Second
	defaultFailoverBackoff = 100 * time.Millisecond
	maxFailoverBackoff     = 2 * time.Second
)

// Connect joins the room through the first node of cfg.URLs that lets it,
// trying them in rounds until ctx ends, and keeps the member joined from
// then on (see Failover).
func Connect(ctx context.Context, cfg FailoverConfig) (*Failover, error) {
	if len(cfg.URLs) == 0 {
		return nil, errors.New("client: Connect needs at least one node URL")
	}
	if cfg.Grace <= 0 {
		cfg.Grace = defaultFailoverGrace
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = defaultFailoverBackoff
	}
	f := &Failover{cfg: cfg, stop: make(chan struct{}), done: make(chan struct{})}
	if err := f.reconnect(ctx, 0, cfg.Create, false); err != nil {
		return nil, err
	}
	go f.watch()
	return f, nil
}

// Client is the current connection. After a failover it is a new one.
func (f *Failover) Client() *Client {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur
}

// Done is closed when the failover gave up or was closed; Err says why.
func (f *Failover) Done() <-chan struct{} { return f.done }

// Err is why the failover stopped: the last client's reason (ErrKickedOut,
// ErrRoomEnded, ...) or the last reconnect error; nil while it runs.
func (f *Failover) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Close stops reconnecting and closes the current client.
func (f *Failover) Close() error {
	f.mu.Lock()
	if !f.closed {
		f.closed = true
		close(f.stop)
	}
	f.mu.Unlock()
	<-f.done
	return f.Client().Close()
}

// watch waits for the current client to end and replaces it.
func (f *Failover) watch() {
	defer close(f.done)
	for {
		c := f.Client()
		select {
		case <-f.stop:
			f.finish(ErrClosed)
			return
		case <-c.Done():
		}
		if err := c.Err(); !errors.Is(err, ErrConnectionLost) {
			f.finish(err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), f.cfg.Grace)
		go func() {
			select {
			case <-f.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		f.mu.Lock()
		start := f.next
		f.mu.Unlock()
		err := f.reconnect(ctx, start, nil, true)
		cancel()
		select {
		case <-f.stop:
			f.finish(ErrClosed)
			return
		default:
		}
		if err != nil {
			f.finish(err)
			return
		}
	}
}

func (f *Failover) finish(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
}

// reconnect dials and joins node after node from URLs[start], in rounds
// with a growing pause, until one lets it in, ctx ends, or an answer says
// retrying cannot help.
func (f *Failover) reconnect(ctx context.Context, start int, create *CreateOptions, refresh bool) error {
	pause := f.cfg.Backoff
	var last error
	urls := f.cfg.URLs
	for {
		if f.cfg.Refresh != nil && refresh {
			if fresh, err := f.cfg.Refresh(ctx); err == nil && len(fresh) > 0 {
				urls, start = fresh, 0
			}
		}
		for i := range urls {
			at := (start + i) % len(urls)
			c, snap, err := f.join(ctx, urls[at], create)
			if err == nil {
				f.mu.Lock()
				f.cur, f.next = c, (at+1)%len(urls)
				f.cfg.URLs = urls
				f.mu.Unlock()
				if f.cfg.OnConnect != nil {
					f.cfg.OnConnect(c, snap)
				}
				return nil
			}
			if final(err) {
				return err
			}
			last = err
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), last)
		case <-time.After(pause):
		}
		pause = min(2*pause, maxFailoverBackoff)
	}
}

func (f *Failover) join(ctx context.Context, url string, create *CreateOptions) (*Client, proto.Snapshot, error) {
	c, err := Dial(ctx, url, f.cfg.Token, f.cfg.Options...)
	if err != nil {
		return nil, proto.Snapshot{}, err
	}
	snap, err := c.Join(ctx, create)
	if err != nil {
		_ = c.Close()
		return nil, proto.Snapshot{}, err
	}
	return c, snap, nil
}

// final reports errors no other node or later try would answer otherwise:
// a refused token, a ban, a permission or params error. room_not_found is
// not final: while a dead host's room is being taken over (a few seconds),
// nodes answer it.
func final(err error) bool {
	var de *DialError
	if errors.As(err, &de) {
		return de.StatusCode == http.StatusUnauthorized
	}
	if e, ok := AsError(err); ok {
		switch proto.Reason(e.Reason) {
		case proto.ReasonBanned, proto.ReasonTokenInvalid, proto.ReasonPermission, proto.ReasonInvalidParams, proto.ReasonRoomFull:
			return true
		}
	}
	return false
}

// ListNodes asks one node (its base URL, http://host:port) for the
// cluster's live nodes (GET /v1/nodes, PROTOCOL.md §12) and returns their
// signalling URLs (ws://host:port/v1/rtc), for FailoverConfig.Refresh.
func ListNodes(ctx context.Context, hc *http.Client, baseURL string) ([]string, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(baseURL, "/")+"/v1/nodes", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("client: GET /v1/nodes: HTTP %d", resp.StatusCode)
	}
	var res proto.NodesResult
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&res); err != nil {
		return nil, fmt.Errorf("client: GET /v1/nodes: %w", err)
	}
	out := make([]string, 0, len(res.Nodes))
	for _, n := range res.Nodes {
		u := n.URL
		switch {
		case strings.HasPrefix(u, "https://"):
			u = "wss://" + strings.TrimPrefix(u, "https://")
		case strings.HasPrefix(u, "http://"):
			u = "ws://" + strings.TrimPrefix(u, "http://")
		default:
			continue
		}
		out = append(out, strings.TrimSuffix(u, "/")+"/v1/rtc")
	}
	return out, nil
}
