package signal_test

// The arena of the abuse tests (abuse_test.go): two rooms whose owners
// publish through WHIP, a check that honest clients are still served (a
// join and a media packet in each room), and the checks that an attack left
// nothing behind (goroutines, heap).

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"github.com/seatsfu/seatsfu/internal/metrictest"
	"github.com/seatsfu/seatsfu/signal"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
	"github.com/seatsfu/seatsfu/signal/token"
)

type arena struct {
	env   *signaltest.Env
	rooms []string
	heap  uint64
	seq   atomic.Int64
}

// newArena starts an edge with limits and two publishing rooms, "stage"
// (the one attacked) and "other". Registered first, the leak check runs
// last, after the edge and every client of the test stopped.
func newArena(t *testing.T, limits signal.Limits, opts ...signaltest.Option) *arena {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	env := signaltest.Start(t, append([]signaltest.Option{signaltest.WithLimits(limits)}, opts...)...)
	a := &arena{env: env, rooms: []string{"stage", "other"}}
	for _, room := range a.rooms {
		p := signaltest.NewPublisher(t)
		env.StartWHIP(t, room, env.Token(room, "owner-"+room, proto.RoleOwner), p)
	}
	a.served(t)
	a.heap = settledHeap()
	return a
}

// served proves honest clients still get in: in every room a new audience
// member joins and a new WHEP player receives the owner's media. Each
// player's subscription is released before served returns (a WHEP
// session's count is given back by a watcher once its connection is
// gone), so it is not counted against a cap the test goes on to probe.
func (a *arena) served(t *testing.T) {
	t.Helper()
	for _, room := range a.rooms {
		subs := a.metric(t, "seatsfu_subscribers")
		n := a.seq.Add(1)
		c := a.env.Member(t, room, fmt.Sprintf("fan-%d", n), proto.RoleAudience, nil)
		v := signaltest.NewViewer(t, 1)
		loc := a.env.StartWHEP(t, room, a.env.Token(room, fmt.Sprintf("player-%d", n), proto.RoleAudience), "", v)
		mid := v.Mid(t, webrtc.RTPCodecTypeVideo, 0)
		signaltest.WaitFor(t, 10*time.Second, "media in "+room, func() bool { return v.Count(mid) > 0 })
		signaltest.DoHTTP(t, http.MethodDelete, a.env.URL+loc, a.env.Token(room, fmt.Sprintf("player-%d", n), proto.RoleAudience), "", "")
		_ = v.PC.Close()
		_ = c.Close()
		signaltest.WaitFor(t, 10*time.Second, "the player's subscription released", func() bool {
			return a.metric(t, "seatsfu_subscribers") <= subs
		})
	}
}

// heapBack asserts the heap returned near its size before the attack.
func (a *arena) heapBack(t *testing.T) {
	t.Helper()
	const slack = 8 << 20
	deadline := time.Now().Add(5 * time.Second)
	for {
		h := settledHeap()
		if h <= a.heap+slack {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("heap %d KiB after the attack, %d KiB before", h>>10, a.heap>>10)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func settledHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// metric reads one series of the edge's registry.
func (a *arena) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	return metrictest.Value(t, a.env.Registry, name, labels...)
}

// from is a dialer whose connections come from ip (any 127.0.0.0/8 address
// is loopback on Linux), so a test can play several client IPs.
func from(ip string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
}

// httpFrom is a client without keep-alive whose connections come from ip.
func httpFrom(ip string) *http.Client {
	return &http.Client{
		Transport: &http.Transport{DialContext: from(ip).DialContext, DisableKeepAlives: true},
		Timeout:   10 * time.Second,
	}
}

// get fetches path from ip and returns the status and Retry-After.
func (a *arena) get(t *testing.T, ip, method, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, a.env.URL+path, strings.NewReader(""))
	resp, err := httpFrom(ip).Do(req)
	if err != nil {
		t.Fatalf("%s %s from %s: %v", method, path, ip, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// dialWS opens a signalling socket from ip; the close status it ends with
// (or -1) and the HTTP status of a refused upgrade are returned.
func (a *arena) dialWS(t *testing.T, ip, tok string) (websocket.StatusCode, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, a.env.WSURL, &websocket.DialOptions{
		HTTPClient: httpFrom(ip),
		HTTPHeader: http.Header{"Authorization": {"Bearer " + tok}},
	})
	if err != nil {
		if resp != nil {
			return -1, resp.StatusCode
		}
		t.Fatalf("dial from %s: %v", ip, err)
	}
	defer conn.CloseNow()
	_, _, err = conn.Read(ctx)
	return websocket.CloseStatus(err), http.StatusSwitchingProtocols
}

// idle opens n TCP connections from ip that never send a byte, and closes
// them at cleanup; it returns them so the test can close them earlier.
func idle(t *testing.T, addr, ip string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := from(ip).Dial("tcp", addr)
		if err != nil {
			t.Fatalf("idle dial %d from %s: %v", len(conns), ip, err)
		}
		conns = append(conns, c)
	}
	t.Cleanup(func() { closeAll(conns) })
	return conns
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		_ = c.Close()
	}
}

// tokenID is an audience identity named after its user.
func tokenID(room, user string) token.Identity {
	return token.Identity{UserID: user, Room: room, Name: user, Role: proto.RoleAudience}
}
