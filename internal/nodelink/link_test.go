package nodelink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/seatsfu/seatsfu/internal/cluster"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var secret = []byte("cluster-secret")

const patience = 10 * time.Second

// node is one test node: a link listener and a pool, recording frames.
type node struct {
	id     string
	pool   *Pool
	srv    *httptest.Server
	frames chan Frame
}

func newNode(t *testing.T, id string, live func(string) bool, queueLen int, handle func(*Link, Frame), onAccept ...func(*Link)) *node {
	t.Helper()
	n := &node{id: id, frames: make(chan Frame, 1024)}
	if handle == nil {
		handle = func(_ *Link, f Frame) { n.frames <- f }
	}
	n.pool = NewPool(id, secret, queueLen, handle)
	ln := &Listener{Self: id, Secret: secret, IsLive: live, QueueLen: queueLen, OnFrame: handle,
		OnLink: func(l *Link) {
			for _, f := range onAccept {
				f(l)
			}
			n.pool.Add(l)
		}}
	mux := http.NewServeMux()
	mux.Handle(Path, ln)
	n.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		n.pool.Close()
		n.srv.Close()
	})
	return n
}

func (n *node) info() cluster.NodeInfo {
	return cluster.NodeInfo{ID: n.id, NodeAddr: strings.TrimPrefix(n.srv.URL, "http://")}
}

func everyone(string) bool { return true }

func frame(s, kind string, payload any) Frame {
	p, _ := json.Marshal(payload)
	return Frame{Session: s, Kind: kind, Payload: p}
}

func next(t *testing.T, ch <-chan Frame) Frame {
	t.Helper()
	select {
	case f := <-ch:
		return f
	case <-time.After(patience):
		t.Fatal("no frame arrived")
		return Frame{}
	}
}

// TestLinkCarriesFramesBothWays: a dials b; frames arrive in order with
// their session, kind and payload intact, and b answers over the same
// link (it is the pair's only one).
func TestLinkCarriesFramesBothWays(t *testing.T) {
	a, b := newNode(t, "a", everyone, 0, nil), newNode(t, "b", everyone, 0, nil)
	ctx := context.Background()
	l, err := a.pool.Get(ctx, b.info())
	if err != nil {
		t.Fatal(err)
	}
	if l.Peer() != "b" {
		t.Fatalf("peer %q", l.Peer())
	}
	for i := range 100 {
		if err := l.Send(frame(fmt.Sprint("s", i%3), "rpc", map[string]int{"n": i})); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 100 {
		f := next(t, b.frames)
		if f.Session != fmt.Sprint("s", i%3) || f.Kind != "rpc" || string(f.Payload) != fmt.Sprintf(`{"n":%d}`, i) {
			t.Fatalf("frame %d arrived as %+v", i, f)
		}
	}
	back, err := b.pool.Get(ctx, a.info())
	if err != nil {
		t.Fatal(err)
	}
	if back.dialer != "a" {
		t.Fatalf("b dialled a second link (dialer %q) instead of using a's", back.dialer)
	}
	if err := back.Send(frame("s0", "reply", "ok")); err != nil {
		t.Fatal(err)
	}
	if f := next(t, a.frames); f.Kind != "reply" || string(f.Payload) != `"ok"` {
		t.Fatalf("reply arrived as %+v", f)
	}
	if again, _ := a.pool.Get(ctx, b.info()); again != l {
		t.Fatal("a second Get dialled again")
	}
}

// TestLinkRefused: a token for another node, another secret, or a node the
// registry does not list opens no link.
func TestLinkRefused(t *testing.T) {
	b := newNode(t, "b", func(id string) bool { return id == "a" }, 0, nil)
	ctx := context.Background()
	url := "ws://" + b.info().NodeAddr + Path
	noop := func(*Link, Frame) {}
	for name, dial := range map[string]func() (*Link, error){
		"other node":   func() (*Link, error) { return Dial(ctx, url, secret, "a", "c", 0, noop) },
		"other secret": func() (*Link, error) { return Dial(ctx, url, []byte("nope"), "a", "b", 0, noop) },
		"not live":     func() (*Link, error) { return Dial(ctx, url, secret, "z", "b", 0, noop) },
	} {
		if l, err := dial(); err == nil {
			l.Close()
			t.Errorf("%s: the link opened", name)
		}
	}
	resp, err := http.Get(b.srv.URL + Path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %s", resp.Status)
	}
}

// TestSlowPeerClosesLink: a peer that stops reading makes the sender's
// bounded queue fill; the link closes with ErrOverloaded instead of
// blocking the sender or growing without bound.
func TestSlowPeerClosesLink(t *testing.T) {
	stall := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(stall) }) }
	defer release()
	b := newNode(t, "b", everyone, 0, func(*Link, Frame) { <-stall })
	a := newNode(t, "a", everyone, 4, nil)
	l, err := a.pool.Get(context.Background(), b.info())
	if err != nil {
		t.Fatal(err)
	}
	big := frame("s", "rpc", strings.Repeat("x", 64<<10))
	deadline := time.Now().Add(patience)
	for {
		err := l.Send(big)
		if errors.Is(err, ErrOverloaded) {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("send = %v; the queue never filled", err)
		}
	}
	<-l.Done()
	if !errors.Is(l.Err(), ErrOverloaded) {
		t.Fatalf("link closed with %v, want ErrOverloaded", l.Err())
	}
	if err := l.Send(big); !errors.Is(err, ErrClosed) {
		t.Fatalf("send on the closed link = %v", err)
	}
	release()
}

// TestCloseEndsBothEnds: closing one end closes the other, and the pool
// dials a new link on the next Get.
func TestCloseEndsBothEnds(t *testing.T) {
	accepted := make(chan *Link, 4)
	b := newNode(t, "b", everyone, 0, nil, func(l *Link) { accepted <- l })
	a := newNode(t, "a", everyone, 0, nil)
	ctx := context.Background()
	l, err := a.pool.Get(ctx, b.info())
	if err != nil {
		t.Fatal(err)
	}
	far := <-accepted
	l.Close()
	select {
	case <-far.Done():
	case <-time.After(patience):
		t.Fatal("the far end stayed open")
	}
	l2, err := a.pool.Get(ctx, b.info())
	if err != nil || l2 == l {
		t.Fatalf("Get after close = %p (old %p), %v", l2, l, err)
	}
}

// TestGarbageClosesLink: a frame that is not one ends the link: nothing a
// broken or hostile node sends after it is trusted.
func TestGarbageClosesLink(t *testing.T) {
	got := make(chan *Link, 1)
	b := newNode(t, "b", everyone, 0, nil, func(l *Link) { got <- l })
	tok, err := cluster.MintLinkToken(secret, "a", "b", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, _, err := websocket.Dial(ctx, "ws://"+b.info().NodeAddr+Path,
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + tok}}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	l := <-got
	if err := conn.Write(ctx, websocket.MessageText, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Done():
	case <-time.After(patience):
		t.Fatal("a garbage frame did not close the link")
	}
	if l.Err() == nil || !strings.Contains(l.Err().Error(), "not one") {
		t.Fatalf("link closed with %v", l.Err())
	}
}

// TestOneLinkPerPair: both nodes of a pair dial each other at once; both
// settle on the link dialled by the smaller id and close the other.
func TestOneLinkPerPair(t *testing.T) {
	a, b := newNode(t, "a", everyone, 0, nil), newNode(t, "b", everyone, 0, nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _, _ = a.pool.Get(ctx, b.info()) }()
	go func() { defer wg.Done(); _, _ = b.pool.Get(ctx, a.info()) }()
	wg.Wait()
	deadline := time.Now().Add(patience)
	for {
		la, errA := a.pool.Get(ctx, b.info())
		lb, errB := b.pool.Get(ctx, a.info())
		if errA == nil && errB == nil && la.dialer == "a" && lb.dialer == "a" {
			// Both ends of one link: a frame from b arrives at a.
			if err := lb.Send(frame("s", "note", 1)); err != nil {
				t.Fatal(err)
			}
			if f := next(t, a.frames); f.Kind != "note" {
				t.Fatalf("frame %+v", f)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pair did not settle on a's link: a uses %v (%v), b uses %v (%v)", la, errA, lb, errB)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
