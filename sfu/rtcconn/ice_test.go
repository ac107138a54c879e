package rtcconn

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/srtp/v3"
	"github.com/pion/stun/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a Handler that remembers what it was told.
type recorder struct {
	mu        sync.Mutex
	out       *srtp.Context
	addr      Path
	moved     []Path
	rtcp      int
	closedErr error
	closed    chan struct{}
	connected chan struct{}
}

func newRecorder() *recorder {
	return &recorder{closed: make(chan struct{}), connected: make(chan struct{})}
}

func (r *recorder) Connected(out *srtp.Context, _ srtp.ProtectionProfile, addr Path) {
	r.mu.Lock()
	r.out, r.addr = out, addr
	r.mu.Unlock()
	close(r.connected)
}

func (r *recorder) Moved(addr Path) {
	r.mu.Lock()
	r.moved = append(r.moved, addr)
	r.mu.Unlock()
}

func (r *recorder) RTCP([]byte) {
	r.mu.Lock()
	r.rtcp++
	r.mu.Unlock()
}

func (r *recorder) Closed(err error) {
	r.mu.Lock()
	r.closedErr = err
	r.mu.Unlock()
	close(r.closed)
}

func newTestMux(t *testing.T, cfg Config) (*Mux, *net.UDPConn) {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMux(conn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = m.Close()
		_ = conn.Close()
	})
	return m, conn
}

// agent is a viewer's ICE agent by hand: a socket, the viewer's
// credentials, and optionally an answerer of the SFU's checks.
type agent struct {
	t          *testing.T
	conn       *net.UDPConn
	server     *net.UDPAddr
	ufrag, pwd string // the viewer's
	sfuUfrag   string
	sfuPwd     string
	answer     bool

	mu       sync.Mutex
	checks   int // the SFU's binding requests received
	answered int // our requests the SFU answered
	media    int // other datagrams
	stop     chan struct{}
	done     chan struct{}
}

func newAgent(t *testing.T, server net.Addr, p Params, answer bool) *agent {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	a := &agent{t: t, conn: c, server: server.(*net.UDPAddr), ufrag: p.RemoteUfrag, pwd: p.RemotePwd,
		sfuUfrag: p.LocalUfrag, sfuPwd: p.LocalPwd, answer: answer, stop: make(chan struct{}), done: make(chan struct{})}
	go a.run()
	t.Cleanup(a.close)
	return a
}

func (a *agent) close() {
	select {
	case <-a.stop:
		return
	default:
	}
	close(a.stop)
	_ = a.conn.Close()
	<-a.done
}

func (a *agent) addr() netip.AddrPort { return a.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (a *agent) run() {
	defer close(a.done)
	buf := make([]byte, 1500)
	for {
		n, from, err := a.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		var m stun.Message
		m.Raw = append([]byte(nil), buf[:n]...)
		if !stun.IsMessage(m.Raw) || m.Decode() != nil {
			a.mu.Lock()
			a.media++
			a.mu.Unlock()
			continue
		}
		switch m.Type {
		case stun.BindingRequest:
			if stun.NewShortTermIntegrity(a.pwd).Check(&m) != nil {
				a.t.Error("the SFU's check is not keyed with the viewer's password")
				continue
			}
			var ctl ice.AttrControlled
			if ctl.GetFrom(&m) != nil {
				a.t.Error("the SFU's check does not say ICE-CONTROLLED")
			}
			a.mu.Lock()
			a.checks++
			answer := a.answer
			a.mu.Unlock()
			if answer {
				resp := stun.MustBuild(&m, stun.BindingSuccess, &stun.XORMappedAddress{IP: from.IP, Port: from.Port},
					stun.NewShortTermIntegrity(a.pwd), stun.Fingerprint)
				_, _ = a.conn.WriteToUDP(resp.Raw, from)
			}
		case stun.BindingSuccess:
			a.mu.Lock()
			a.answered++
			a.mu.Unlock()
		}
	}
}

// request sends a Binding request as the controlling viewer would.
func (a *agent) request(nominate bool, pwd, username string) {
	if username == "" {
		username = a.sfuUfrag + ":" + a.ufrag
	}
	setters := []stun.Setter{stun.TransactionID, stun.BindingRequest, stun.NewUsername(username),
		ice.AttrControlling(1), ice.PriorityAttr(1)}
	if nominate {
		setters = append(setters, ice.UseCandidate())
	}
	setters = append(setters, stun.NewShortTermIntegrity(pwd), stun.Fingerprint)
	_, _ = a.conn.WriteToUDP(stun.MustBuild(setters...).Raw, a.server)
}

func (a *agent) counts() (checks, answered, media int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.checks, a.answered, a.media
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testParams(n string) Params {
	return Params{LocalUfrag: "sfu" + n, LocalPwd: "sfu-password-" + n + "-xxxxxxxxxx",
		RemoteUfrag: "view" + n, RemotePwd: "viewer-password-" + n + "-xxxxxxx",
		FingerprintAlgo: "sha-256", Fingerprint: "00:11"}
}

// A request with a wrong password, a wrong USERNAME or a ufrag nobody has
// changes nothing: no answer, no address learned, and unknown ufrags go on
// to Pion untouched.
func TestBadChecksChangeNothing(t *testing.T) {
	m, conn := newTestMux(t, Config{})
	p := testParams("1")
	rec := newRecorder()
	tr, err := m.NewTransport(p, rec)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	a := newAgent(t, conn.LocalAddr(), p, true)

	a.request(true, "wrong-password-xxxxxxxxxxx", "")
	a.request(true, p.LocalPwd, p.LocalUfrag+":someone-else")
	eventually(t, 2*time.Second, "both refused", func() bool {
		return testutil.ToFloat64(m.cfg.Metrics.Checks.WithLabelValues("refused")) == 2
	})
	a.request(true, p.LocalPwd, "nobody:"+p.RemoteUfrag) // an unknown ufrag: Pion's business
	buf := make([]byte, 1500)
	_ = m.PionConn().SetReadDeadline(time.Now().Add(2 * time.Second))
	n, from, err := m.PionConn().ReadFrom(buf)
	if err != nil {
		t.Fatalf("the unknown ufrag's request did not reach Pion: %v", err)
	}
	if from.(*net.UDPAddr).AddrPort() != a.addr() || !stun.IsMessage(buf[:n]) {
		t.Fatalf("Pion got %d bytes from %v", n, from)
	}
	if _, answered, _ := a.counts(); answered != 0 {
		t.Fatalf("the SFU answered %d bad requests", answered)
	}
	if tr.Addr().Valid() {
		t.Fatalf("a refused request nominated %v", tr.Addr())
	}
	m.mu.RLock()
	learned := len(m.byAddr)
	m.mu.RUnlock()
	if learned != 0 {
		t.Fatalf("refused requests taught the demux %d addresses", learned)
	}

	a.request(true, p.LocalPwd, "")
	eventually(t, 2*time.Second, "the good request answered and nominated", func() bool {
		_, answered, _ := a.counts()
		return answered == 1 && tr.Addr().Addr == a.addr()
	})
	eventually(t, 2*time.Second, "a triggered check", func() bool { c, _, _ := a.counts(); return c >= 1 })
}

// A viewer that nominates a new address (a new pair after a network
// change) is followed there; an old address's consent no longer counts.
func TestNominationMovesTheViewer(t *testing.T) {
	m, conn := newTestMux(t, Config{})
	p := testParams("2")
	rec := newRecorder()
	tr, err := m.NewTransport(p, rec)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	a1 := newAgent(t, conn.LocalAddr(), p, true)
	a2 := newAgent(t, conn.LocalAddr(), p, true)
	a1.request(true, p.LocalPwd, "")
	eventually(t, 2*time.Second, "first nomination", func() bool { return tr.Addr().Addr == a1.addr() })
	a2.request(false, p.LocalPwd, "")
	eventually(t, 2*time.Second, "a2 answered", func() bool { _, n, _ := a2.counts(); return n == 1 })
	if tr.Addr().Addr != a1.addr() {
		t.Fatal("a check without USE-CANDIDATE moved the viewer")
	}
	a2.request(true, p.LocalPwd, "")
	eventually(t, 2*time.Second, "second nomination", func() bool { return tr.Addr().Addr == a2.addr() })
}

// Consent (RFC 7675): a viewer that answers the SFU's checks stays past
// the consent timeout; one that stops answering is closed with
// ErrConsentLost, and its addresses leave the demux.
func TestConsent(t *testing.T) {
	const timeout = 600 * time.Millisecond
	m, conn := newTestMux(t, Config{ConsentInterval: 100 * time.Millisecond, ConsentTimeout: timeout})
	pAlive, pGone := testParams("3"), testParams("4")
	alive, gone := newRecorder(), newRecorder()
	tA, err := m.NewTransport(pAlive, alive)
	if err != nil {
		t.Fatal(err)
	}
	defer tA.Close()
	tG, err := m.NewTransport(pGone, gone)
	if err != nil {
		t.Fatal(err)
	}
	defer tG.Close()
	aA := newAgent(t, conn.LocalAddr(), pAlive, true)
	aG := newAgent(t, conn.LocalAddr(), pGone, false)
	aA.request(true, pAlive.LocalPwd, "")
	aG.request(true, pGone.LocalPwd, "")
	start := time.Now()
	select {
	case <-gone.closed:
	case <-time.After(10 * timeout):
		t.Fatal("a silent viewer kept its consent")
	}
	if !errors.Is(gone.closedErr, ErrConsentLost) {
		t.Fatalf("closed with %v", gone.closedErr)
	}
	if e := time.Since(start); e < timeout {
		t.Fatalf("consent lost after %v, before the %v timeout", e, timeout)
	}
	// The answering viewer has seen checks across more than the timeout.
	eventually(t, 10*timeout, "the live viewer checked past the timeout", func() bool {
		c, _, _ := aA.counts()
		return c >= 8 && time.Since(start) > 2*timeout
	})
	select {
	case <-alive.closed:
		t.Fatalf("a viewer answering its checks lost consent: %v", alive.closedErr)
	default:
	}
	m.mu.RLock()
	_, stillThere := m.byAddr[aG.addr()]
	m.mu.RUnlock()
	if stillThere {
		t.Fatal("the closed viewer's address still routes to it")
	}
	if v := testutil.ToFloat64(m.cfg.Metrics.ConsentLost); v != 1 {
		t.Fatalf("consent_lost_total %v", v)
	}
}

// A viewer whose copy of our last DTLS flight was lost retransmits its own
// after the SFU tore its DTLS down: the SFU resends the kept flight, at
// most once per replayEvery.
func TestLateRetransmissionGetsTheLastFlight(t *testing.T) {
	m, conn := newTestMux(t, Config{})
	p := testParams("5")
	tr, err := m.NewTransport(p, newRecorder())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	a := newAgent(t, conn.LocalAddr(), p, true)
	a.request(true, p.LocalPwd, "")
	eventually(t, 2*time.Second, "nominated", func() bool { return tr.Addr().Addr == a.addr() })
	tr.mu.Lock()
	tr.phase, tr.lastFlight = dtlsDown, [][]byte{{22, 0xfe, 0xfd, 1}, {20, 0xfe, 0xfd, 2}}
	tr.mu.Unlock()
	finished := []byte{22, 0xfe, 0xfd, 0, 1} // the viewer's flight 5, again
	_, _ = a.conn.WriteToUDP(finished, a.server)
	_, _ = a.conn.WriteToUDP(finished, a.server) // within replayEvery: no second replay
	eventually(t, 2*time.Second, "the flight resent", func() bool { _, _, media := a.counts(); return media == 2 })
	time.Sleep(2 * replayEvery)
	if _, _, media := a.counts(); media != 2 {
		t.Fatalf("%d datagrams resent for two retransmissions within %v, want the flight's 2", media, replayEvery)
	}
	if v := testutil.ToFloat64(m.cfg.Metrics.FlightReplays); v != 1 {
		t.Fatalf("flight replays %v", v)
	}
}

// Pion's side of the demux is bounded: datagrams for publishers that find
// its queue full are dropped and counted, and what was queued still
// arrives, unchanged and in order.
func TestPionQueueIsBounded(t *testing.T) {
	const size = 16
	m, conn := newTestMux(t, Config{PionQueue: size})
	tx, err := net.DialUDP("udp4", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	for i := range 4 * size {
		if _, err := tx.Write([]byte{0x80, 96, 0, byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Nobody reads Pion's side meanwhile: the first size are queued, the
	// rest dropped (loopback loses none of 64 small datagrams).
	eventually(t, 5*time.Second, "the overflow counted", func() bool {
		return testutil.ToFloat64(m.cfg.Metrics.PionDrops) == 3*size
	})
	buf := make([]byte, 1500)
	last := -1
	for n := 0; ; n++ {
		_ = m.PionConn().SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		k, _, err := m.PionConn().ReadFrom(buf)
		if err != nil {
			if n != size {
				t.Fatalf("read %d datagrams from a queue of %d", n, size)
			}
			break
		}
		if k != 4 || int(buf[3]) <= last {
			t.Fatalf("datagram %x after %d", buf[:k], last)
		}
		last = int(buf[3])
	}
	if last < 0 {
		t.Fatal("nothing reached Pion")
	}
}
