package signal

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/coder/websocket"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// cascadeLink is the edge's side of a cascade socket (cascade_host.go): a
// minimal JSON-RPC caller over signal/proto, so the server depends on its
// own wire types and not on the Go SDK. Calls are few (join, subscribe,
// a quality change now and then); notifications are not read.
type cascadeLink struct {
	conn *websocket.Conn

	mu      sync.Mutex
	next    int
	pending map[string]chan proto.Frame // by id; bounded by the callers in flight
	err     error                       // why the link ended, once it did

	done chan struct{} // closed when the reader returned
}

// cascadeLinkReadLimit bounds one frame from the host; the largest is a
// subscribe answer's SDP (a few kilobytes a seat).
const cascadeLinkReadLimit = 1 << 20

// dialCascade opens a cascade socket to the host's /v1/cascade with tok.
func dialCascade(ctx context.Context, url, tok string) (*cascadeLink, error) {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok)
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(cascadeLinkReadLimit)
	l := &cascadeLink{conn: conn, pending: make(map[string]chan proto.Frame), done: make(chan struct{})}
	go l.read()
	return l, nil
}

// read hands each answer to its caller until the socket ends.
func (l *cascadeLink) read() {
	defer close(l.done)
	for {
		_, b, err := l.conn.Read(context.Background())
		if err != nil {
			l.fail(err)
			return
		}
		var f proto.Frame
		if json.Unmarshal(b, &f) != nil || f.Method != "" || len(f.ID) == 0 {
			continue // a notification, or not for anyone
		}
		l.mu.Lock()
		ch := l.pending[string(f.ID)]
		delete(l.pending, string(f.ID))
		l.mu.Unlock()
		if ch != nil {
			ch <- f // buffered: never blocks
		}
	}
}

// fail ends every call in flight with err.
func (l *cascadeLink) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = fmt.Errorf("cascade link: %w", err)
	}
	for id, ch := range l.pending {
		close(ch)
		delete(l.pending, id)
	}
}

// call sends one request and decodes its answer into result.
func (l *cascadeLink) call(ctx context.Context, method string, params, result any) error {
	l.mu.Lock()
	if l.err != nil {
		err := l.err
		l.mu.Unlock()
		return err
	}
	l.next++
	id := strconv.Itoa(l.next)
	ch := make(chan proto.Frame, 1)
	l.pending[id] = ch
	l.mu.Unlock()
	forget := func() {
		l.mu.Lock()
		delete(l.pending, id)
		l.mu.Unlock()
	}
	b, err := json.Marshal(proto.Call{JSONRPC: proto.Version, ID: json.RawMessage(id), Method: method, Params: params})
	if err != nil {
		forget()
		return err
	}
	if err := l.conn.Write(ctx, websocket.MessageText, b); err != nil {
		forget()
		return fmt.Errorf("cascade link: %s: %w", method, err)
	}
	select {
	case f, ok := <-ch:
		if !ok {
			l.mu.Lock()
			defer l.mu.Unlock()
			return l.err
		}
		if f.Error != nil {
			return f.Error
		}
		if result == nil {
			return nil
		}
		return json.Unmarshal(f.Result, result)
	case <-ctx.Done():
		forget()
		return ctx.Err()
	}
}

// Done is closed when the socket has ended (the host closed it: the room
// ended or moved, or the host stopped).
func (l *cascadeLink) Done() <-chan struct{} { return l.done }

// close ends the socket and waits for the reader.
func (l *cascadeLink) close() {
	_ = l.conn.Close(websocket.StatusNormalClosure, "")
	<-l.done
}
