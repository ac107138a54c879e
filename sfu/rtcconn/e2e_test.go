package rtcconn

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var (
	testOpus = Codec{Name: "opus", ClockRate: 48000, Channels: 2, Fmtp: "minptime=10;useinbandfec=1",
		Feedback: []string{"transport-cc"}}
	testVP8 = Codec{Name: "VP8", ClockRate: 90000, Feedback: []string{"ccm fir", "nack", "nack pli", "transport-cc"}}
)

// client is a Pion viewer: recvonly audio and video, Pion's default
// interceptors (it sends receiver reports, like a browser).
type client struct {
	pc  *webrtc.PeerConnection
	mu  sync.Mutex
	got map[string]int // packets by track kind
	wg  sync.WaitGroup
}

func newClient(t *testing.T) *client {
	t.Helper()
	return newClientOn(t, webrtc.NetworkTypeUDP4)
}

// newClientOn is a client gathering only on network (TCP4: a viewer whose
// network blocks UDP, dialling the SFU's passive ICE-TCP candidates).
func newClientOn(t *testing.T, network webrtc.NetworkType) *client {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{network})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	c := &client{pc: pc, got: map[string]int{}}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		c.wg.Add(1)
		defer c.wg.Done()
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			c.mu.Lock()
			c.got[tr.Kind().String()]++
			c.mu.Unlock()
		}
	})
	return c
}

func (c *client) count(kind string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got[kind]
}

func (c *client) close() {
	_ = c.pc.Close()
	c.wg.Wait()
}

func (c *client) offer(t *testing.T) string {
	t.Helper()
	o, err := c.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	done := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	<-done
	return c.pc.LocalDescription().SDP
}

// connect answers c's offer on the own transport and waits for the
// handshake.
func connect(t *testing.T, m *Mux, conn *net.UDPConn, c *client, n string) (*Transport, *recorder, []Line) {
	t.Helper()
	port := conn.LocalAddr().(*net.UDPAddr).Port
	return connectWith(t, m, c, n, fmt.Sprintf("1 1 udp 2130706431 127.0.0.1 %d typ host", port))
}

func connectWith(t *testing.T, m *Mux, c *client, n, candidate string) (*Transport, *recorder, []Line) {
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
	ans, lines, err := Answer(o, AnswerConfig{Audio: testOpus, Video: testVP8, RTX: true, Fingerprint: m.Fingerprint(),
		Ufrag: p.LocalUfrag, Pwd: p.LocalPwd, Candidates: []string{candidate}},
		[]*Sender{{StreamID: "seat0", TrackID: "seat0-audio"}, {StreamID: "seat0", TrackID: "seat0-video"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans}); err != nil {
		t.Fatalf("the client refused the answer: %v\n%s", err, ans)
	}
	select {
	case <-rec.connected:
	case <-rec.closed:
		t.Fatalf("closed before connecting: %v", rec.closedErr)
	case <-time.After(15 * time.Second):
		t.Fatal("no DTLS handshake")
	}
	return tr, rec, lines
}

// send encrypts n packets per line with the transport's keys and sends
// them to addr, as the SFU's direct egress path does.
func send(t *testing.T, tr *Transport, rec *recorder, lines []Line, first uint16, n int) {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, l := range lines {
		for i := range n {
			pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: l.PT, SSRC: l.SSRC,
				SequenceNumber: first + uint16(i), Timestamp: uint32(first+uint16(i)) * 3000, Marker: true},
				Payload: []byte{0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a, byte(i)}}
			b, err := pkt.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			enc, err := rec.out.EncryptRTP(nil, b, nil)
			if err != nil {
				t.Fatal(err)
			}
			tr.Send(enc)
		}
	}
}

// A Pion viewer connects to the own transport: it accepts the answer, its
// ICE and DTLS complete against the demux, it decrypts the media sent with
// the exported keys, its RTCP arrives decrypted — and then the DTLS
// connection's goroutines are gone, with no close_notify (the viewer
// stays connected).
func TestPionViewerReceivesOverTheOwnTransport(t *testing.T) {
	m, conn := newTestMux(t, Config{})
	c := newClient(t)
	defer c.close()
	tr, rec, lines := connect(t, m, conn, c, "a")
	defer tr.Close()
	// Until then its DTLS conn has a reader (the client sends no RTCP
	// before it receives media, and the linger is 5 s).
	eventually(t, 2*time.Second, "the DTLS conn's reader before the first SRTCP", func() bool {
		return goroutinesWith("rtcconn.(*dtlsConn).ReadFrom") == 1
	})
	if len(lines) != 2 || !lines[0].Sending || !lines[1].Sending || lines[1].RTXSSRC == 0 || lines[1].TransportCCExt == 0 {
		t.Fatalf("negotiated %+v", lines)
	}
	eventually(t, 10*time.Second, "the client connected", func() bool {
		return c.pc.ConnectionState() == webrtc.PeerConnectionStateConnected
	})
	seq := uint16(1)
	eventually(t, 10*time.Second, "media on both tracks", func() bool {
		send(t, tr, rec, lines, seq, 5)
		seq += 5
		time.Sleep(20 * time.Millisecond)
		return c.count("audio") > 0 && c.count("video") > 0
	})
	// The client's RTCP (its receiver reports; a PLI to be sure).
	eventually(t, 10*time.Second, "the client's RTCP, decrypted", func() bool {
		_ = c.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: lines[1].SSRC}})
		time.Sleep(20 * time.Millisecond)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.rtcp > 0
	})
	eventually(t, 2*time.Second, "DTLS torn down", func() bool { return testutil.ToFloat64(m.cfg.Metrics.DTLSActive) == 0 })
	// Its goroutines are gone: none reads the viewer's DTLS conn or waits
	// on its handshake.
	eventually(t, 2*time.Second, "the server's DTLS goroutines gone", func() bool {
		return goroutinesWith("rtcconn.(*dtlsConn).ReadFrom", "rtcconn.(*Transport).handshake", "dtls.(*Conn).handshake") == 0
	})
	if v := testutil.ToFloat64(m.cfg.Metrics.Handshakes.WithLabelValues("ok")); v != 1 {
		t.Fatalf("handshakes ok = %v", v)
	}
	// No close_notify reached the client: it stays connected and keeps
	// receiving.
	before := c.count("video")
	eventually(t, 5*time.Second, "media after the teardown", func() bool {
		send(t, tr, rec, lines, seq, 5)
		seq += 5
		time.Sleep(20 * time.Millisecond)
		return c.count("video") > before
	})
	if st := c.pc.ConnectionState(); st != webrtc.PeerConnectionStateConnected {
		t.Fatalf("client state %v after the DTLS teardown", st)
	}
}

// The answer has what the Pion path's answer has for the same offer:
// BUNDLE, passive DTLS, the node's codec at the offer's payload types,
// RTX in an FID group, transport-cc, msid.
func TestAnswerShape(t *testing.T) {
	c := newClient(t)
	defer c.close()
	o, err := ParseOffer(c.offer(t))
	if err != nil {
		t.Fatal(err)
	}
	ans, lines, err := Answer(o, AnswerConfig{Audio: testOpus, Video: testVP8, RTX: true, Fingerprint: "sha-256 AA:BB",
		Ufrag: "u", Pwd: "p"}, []*Sender{{StreamID: "seat0", TrackID: "seat0-audio"}, nil})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a=group:BUNDLE 0 1", "a=setup:passive", "a=rtpmap:111 opus/48000/2",
		"a=fmtp:111 minptime=10;useinbandfec=1", "a=rtpmap:96 VP8/90000", "a=rtcp-fb:96 nack pli",
		"a=extmap:4 " + TransportCCURI, "a=msid:seat0 seat0-audio", "a=sendonly", "a=inactive", "a=rtcp-mux",
		"a=fingerprint:sha-256 AA:BB"} {
		if !contains(ans, want) {
			t.Errorf("answer lacks %q:\n%s", want, ans)
		}
	}
	if lines[1].Sending || lines[1].SSRC != 0 {
		t.Errorf("an inactive line sends: %+v", lines[1])
	}
}

// goroutinesWith counts the goroutines whose stack has one of frames. The
// client's own DTLS goroutines run Pion's dtls.Conn too, but over its ICE
// conn: "dtls.(*Conn).handshake" only appears while a handshake runs.
func goroutinesWith(frames ...string) int {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	count := 0
	for _, g := range strings.Split(string(buf[:n]), "\n\n") {
		for _, f := range frames {
			if strings.Contains(g, f) {
				count++
				break
			}
		}
	}
	return count
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// A viewer that closes its connection (DTLS close_notify, which the SFU
// cannot read once its DTLS is down) is closed within about leaveProbe —
// not after the whole consent timeout — while one that only sent a forged
// alert and keeps answering its checks stays.
func TestViewerThatLeavesIsClosedAtOnce(t *testing.T) {
	m, conn := newTestMux(t, Config{ConsentTimeout: time.Minute})
	c := newClient(t)
	tr, rec, lines := connect(t, m, conn, c, "b")
	defer tr.Close()
	seq := uint16(1)
	eventually(t, 10*time.Second, "media and the first RTCP", func() bool {
		send(t, tr, rec, lines, seq, 5)
		seq += 5
		_ = c.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: lines[1].SSRC}})
		time.Sleep(20 * time.Millisecond)
		return testutil.ToFloat64(m.cfg.Metrics.DTLSActive) == 0
	})
	// A goodbye while the viewer lives (a forged alert from its address)
	// only costs a check it answers.
	tr.goodbye()
	time.Sleep(leaveProbe + 3*tick)
	select {
	case <-rec.closed:
		t.Fatalf("a live viewer was closed by a goodbye: %v", rec.closedErr)
	default:
	}
	start := time.Now()
	c.close()
	select {
	case <-rec.closed:
	case <-time.After(10 * leaveProbe):
		t.Fatal("a viewer that left is still open")
	}
	if !errors.Is(rec.closedErr, ErrViewerLeft) {
		t.Fatalf("closed with %v", rec.closedErr)
	}
	t.Logf("closed %v after the client", time.Since(start))
}

// A viewer whose network blocks UDP reaches the own transport over ICE-TCP
// on the shared listener (RFC 4571): ICE, DTLS, its media and its RTCP all
// go framed on its one connection. A connection for a ufrag that is no
// viewer's goes on to Pion's listener with its first packet intact.
func TestViewerOverICETCP(t *testing.T) {
	m, _ := newTestMux(t, Config{})
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	pionLn := m.ServeTCP(ln)
	defer pionLn.Close()
	c := newClientOn(t, webrtc.NetworkTypeTCP4)
	defer c.close()
	port := ln.Addr().(*net.TCPAddr).Port
	tr, rec, lines := connectWith(t, m, c, "t", fmt.Sprintf("1 1 tcp 1671430143 127.0.0.1 %d typ host tcptype passive", port))
	defer tr.Close()
	if p := tr.Addr(); !p.TCP {
		t.Fatalf("nominated %+v, want the TCP path", p)
	}
	seq := uint16(1)
	eventually(t, 10*time.Second, "media over TCP", func() bool {
		send(t, tr, rec, lines, seq, 5)
		seq += 5
		time.Sleep(20 * time.Millisecond)
		return c.count("audio") > 0 && c.count("video") > 0
	})
	eventually(t, 10*time.Second, "RTCP over TCP", func() bool {
		_ = c.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: lines[1].SSRC}})
		time.Sleep(20 * time.Millisecond)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.rtcp > 0
	})

	// Someone else's ICE-TCP connection: Pion's.
	other, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.NewUsername("publisher:x"),
		stun.NewShortTermIntegrity("whatever"), stun.Fingerprint)
	framed := append([]byte{byte(len(req.Raw) >> 8), byte(len(req.Raw))}, req.Raw...)
	if _, err := other.Write(framed); err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		if pc, err := pionLn.Accept(); err == nil {
			accepted <- pc
		}
	}()
	select {
	case pc := <-accepted:
		defer pc.Close()
		got := make([]byte, len(framed))
		_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(pc, got); err != nil || string(got) != string(framed) {
			t.Fatalf("Pion read %x, %v; want the first packet %x", got, err, framed)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the other connection never reached Pion's listener")
	}
}

// A TCP connection that never says anything is closed with the mux at
// once, not after the first-packet timeout.
func TestSilentTCPConnectionDoesNotHoldClose(t *testing.T) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	m, err := NewMux(conn, Config{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	m.ServeTCP(ln)
	silent, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	eventually(t, 2*time.Second, "the connection waiting for its first packet", func() bool {
		return goroutinesWith("rtcconn.(*tcpSplit).sort") == 1
	})
	start := time.Now()
	_ = m.Close()
	if d := time.Since(start); d >= firstPacketTimeout/2 {
		t.Fatalf("Close took %v with a silent connection open", d)
	}
}

// swallowingOutbox takes every datagram and sends none.
type swallowingOutbox struct{ posts atomic.Int64 }

func (o *swallowingOutbox) Post([]byte, netip.AddrPort) bool { o.posts.Add(1); return true }

// ICE and DTLS go out at once until the handshake is done, then through the
// outbox: with an outbox that sends nothing, the viewer connects, and then
// loses consent, our checks and answers having gone into it.
func TestOutboxTakesOnlyASettledViewersDatagrams(t *testing.T) {
	out := &swallowingOutbox{}
	m, conn := newTestMux(t, Config{Outbox: out, ConsentInterval: 50 * time.Millisecond, ConsentTimeout: 500 * time.Millisecond})
	c := newClient(t)
	defer c.close()
	tr, rec, _ := connect(t, m, conn, c, "a")
	defer tr.Close()
	select {
	case <-rec.closed:
		if !errors.Is(rec.closedErr, ErrConsentLost) {
			t.Fatalf("closed with %v, want consent lost", rec.closedErr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still open with every check swallowed")
	}
	if out.posts.Load() == 0 {
		t.Fatal("nothing was posted to the outbox")
	}
}
