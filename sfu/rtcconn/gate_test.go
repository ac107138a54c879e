package rtcconn

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The gate admits up to its limit, queues the rest in arrival order, and
// refuses a place only with the queue full.
func TestGateTakesTurnsInOrder(t *testing.T) {
	met := NewMetrics()
	g := newGate(2, 3, met)
	var tks []*ticket
	for range 5 {
		tks = append(tks, g.take())
	}
	if g.take() != nil {
		t.Fatal("a sixth place with 2 running and 3 waiting (queue 3)")
	}
	if got := testutil.ToFloat64(met.HandshakesDeferred); got != 1 {
		t.Fatalf("deferred %v, want 1", got)
	}
	ready := func(tk *ticket) bool {
		select {
		case <-tk.ready:
			return true
		default:
			return false
		}
	}
	for i, want := range []bool{true, true, false, false, false} {
		if ready(tks[i]) != want {
			t.Fatalf("ticket %d ready %v, want %v", i, !want, want)
		}
	}
	if r, w := testutil.ToFloat64(met.HandshakesRunning), testutil.ToFloat64(met.HandshakesWaiting); r != 2 || w != 3 {
		t.Fatalf("running %v waiting %v, want 2 and 3", r, w)
	}
	g.done()
	if !ready(tks[2]) || ready(tks[3]) {
		t.Fatal("the oldest waiter did not get the turn")
	}
	g.done()
	g.done()
	g.done()
	if !ready(tks[4]) {
		t.Fatal("the last waiter never ran")
	}
	g.done()
	if r, w := testutil.ToFloat64(met.HandshakesRunning), testutil.ToFloat64(met.HandshakesWaiting); r != 0 || w != 0 {
		t.Fatalf("running %v waiting %v after every turn, want 0 and 0", r, w)
	}
	if n := testutil.CollectAndCount(met.HandshakeWait); n != 1 {
		t.Fatalf("wait histogram series %d", n)
	}
}

// A waiter that goes away leaves the queue: the turn skips it.
func TestGateWaiterThatLeavesGivesUpItsPlace(t *testing.T) {
	met := NewMetrics()
	g := newGate(1, 10, met)
	first, gone, next := g.take(), g.take(), g.take()
	if !g.wait(first, nil, nil) {
		t.Fatal("the first ticket was not admitted")
	}
	left := make(chan struct{})
	close(left)
	if g.wait(gone, left, nil) {
		t.Fatal("a waiter whose viewer left was admitted")
	}
	if w := testutil.ToFloat64(met.HandshakesWaiting); w != 1 {
		t.Fatalf("waiting %v after one left, want 1", w)
	}
	g.done()
	if !g.wait(next, nil, nil) {
		t.Fatal("the next waiter did not get the turn the leaver gave up")
	}
	g.done()
	if r := testutil.ToFloat64(met.HandshakesRunning); r != 0 {
		t.Fatalf("running %v, want 0", r)
	}
}

// startClient sends c's offer to a new transport on m without waiting for
// the handshake.
func startClient(t *testing.T, m *Mux, port int, c *client, n string) (*Transport, *recorder) {
	t.Helper()
	o, err := ParseOffer(c.offer(t))
	if err != nil {
		t.Fatal(err)
	}
	p := Params{LocalUfrag: "sfuufrag" + n, LocalPwd: "sfu-pwd-0123456789abcdef" + n, RemoteUfrag: o.Ufrag, RemotePwd: o.Pwd,
		FingerprintAlgo: o.FingerprintAlgo, Fingerprint: o.Fingerprint}
	rec := newRecorder()
	tr, err := m.NewTransport(p, rec)
	if err != nil {
		t.Fatal(err)
	}
	ans, _, err := Answer(o, AnswerConfig{Audio: testOpus, Video: testVP8, RTX: true, Fingerprint: m.Fingerprint(),
		Ufrag: p.LocalUfrag, Pwd: p.LocalPwd, Candidates: []string{fmt.Sprintf("1 1 udp 2130706431 127.0.0.1 %d typ host", port)}},
		[]*Sender{{StreamID: "seat0", TrackID: "seat0-audio"}, {StreamID: "seat0", TrackID: "seat0-video"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans}); err != nil {
		t.Fatal(err)
	}
	return tr, rec
}

// A join burst queues at the gate instead of being refused: with the one
// turn held, every viewer's ClientHello waits (its retransmissions
// absorbed, not queued for a second answer), the node's HTTP endpoint
// answers meanwhile, a viewer that closes while waiting leaves the queue,
// and once the turn is free every other viewer connects.
func TestJoinBurstQueuesAtTheGate(t *testing.T) {
	m, conn := newTestMux(t, Config{Handshakes: 1})
	met := m.Metrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(met.Collectors()...)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	m.gate.take() // the one turn: every viewer must queue
	port := conn.LocalAddr().(*net.UDPAddr).Port
	const n = 6
	var (
		clients []*client
		trs     []*Transport
		recs    []*recorder
	)
	for i := range n {
		c := newClient(t)
		defer c.close()
		tr, rec := startClient(t, m, port, c, fmt.Sprint(i))
		clients, trs, recs = append(clients, c), append(trs, tr), append(recs, rec)
	}
	eventually(t, 10*time.Second, "every ClientHello queued", func() bool {
		return testutil.ToFloat64(met.HandshakesWaiting) == n
	})
	// Pion's client retransmits its ClientHello after 1 s, then 2 s:
	// absorbed, and the waiting viewer still connects once its turn comes.
	eventually(t, 15*time.Second, "retransmitted ClientHellos absorbed", func() bool {
		for _, tr := range trs {
			tr.mu.Lock()
			dc := tr.dc
			tr.mu.Unlock()
			if dc != nil && dc.absorbed.Load() > 1 {
				if q := len(dc.q); q != 1 {
					t.Fatalf("a queued viewer holds %d datagrams, want its one ClientHello", q)
				}
				return true
			}
		}
		return false
	})

	start := time.Now()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if took := time.Since(start); took > time.Second || !contains(string(body), "seatsfu_handshakes_waiting 6") {
		t.Fatalf("/metrics while %d wait: %v, body has waiting 6: %v", n, took, contains(string(body), "seatsfu_handshakes_waiting 6"))
	}

	_ = trs[0].Close() // its viewer went away while waiting
	eventually(t, 5*time.Second, "the closed viewer left the queue", func() bool {
		return testutil.ToFloat64(met.HandshakesWaiting) == n-1
	})
	for _, rec := range recs[1:] {
		select {
		case <-rec.connected:
			t.Fatal("a viewer connected while the turn was held")
		default:
		}
	}

	m.gate.done() // the turn is free: the queue drains, one at a time
	var wg sync.WaitGroup
	for i, rec := range recs[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-rec.connected:
			case <-rec.closed:
				t.Errorf("viewer %d closed: %v", i+1, rec.closedErr)
			case <-time.After(30 * time.Second):
				t.Errorf("viewer %d never connected", i+1)
			}
		}()
	}
	wg.Wait()
	for i, c := range clients[1:] { // the viewer's own side completed too
		eventually(t, 10*time.Second, fmt.Sprintf("viewer %d's PeerConnection connected", i+1), func() bool {
			return c.pc.ConnectionState() == webrtc.PeerConnectionStateConnected
		})
	}
	eventually(t, 5*time.Second, "the gate empty", func() bool {
		return testutil.ToFloat64(met.HandshakesWaiting) == 0 && testutil.ToFloat64(met.HandshakesRunning) == 0
	})
	if got := testutil.ToFloat64(met.Handshakes.WithLabelValues("ok")); got != n-1 {
		t.Fatalf("%v handshakes ok, want %d", got, n-1)
	}
	for _, tr := range trs {
		_ = tr.Close()
	}

}
