package whip_test

// Helpers of the WHIP/WHEP tests: Pion publishers and viewers on loopback,
// an HTTP client that keeps no connection (goleak), and WebSocket members
// through the signal/client SDK.

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// locationRE is a session URL: the room, then 128 bits in hex.
var locationRE = regexp.MustCompile(`^/(whip|whep)/([A-Za-z0-9_.-]+)/([0-9a-f]{32})$`)

// pionAPI is a Pion API for test clients: loopback only, default codecs,
// no interceptors.
func pionAPI(t testing.TB) *webrtc.API {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
}

func gathered(t testing.TB, pc *webrtc.PeerConnection) string {
	t.Helper()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ICE gathering did not complete")
	}
	return pc.LocalDescription().SDP
}

// publisher sends synthetic media once answered: Opus-shaped audio and VP8
// video (a keyframe every 10th frame) every 10 ms, each payload stamped
// with a counter so a viewer can tell when it was sent.
type publisher struct {
	pc           *webrtc.PeerConnection
	audio, video *webrtc.TrackLocalStaticRTP
	offer        string

	mu      sync.Mutex
	counter uint32
	started bool
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

func newPublisher(t testing.TB) *publisher {
	t.Helper()
	pc, err := pionAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	p := &publisher{pc: pc, stop: make(chan struct{}), done: make(chan struct{})}
	p.audio, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "a", "pub")
	p.video, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "v", "pub")
	for _, tr := range []webrtc.TrackLocal{p.audio, p.video} {
		if _, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	p.offer = gathered(t, pc)
	t.Cleanup(p.close)
	return p
}

// start applies the answer and starts sending.
func (p *publisher) start(t testing.TB, answer string) {
	t.Helper()
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatalf("publisher: set answer: %v", err)
	}
	p.mu.Lock()
	p.started = true
	p.mu.Unlock()
	go p.run()
}

func (p *publisher) run() {
	defer close(p.done)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := uint32(1); ; i++ {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		p.mu.Lock()
		p.counter = i
		p.mu.Unlock()
		vp := make([]byte, 8)
		vp[0] = 0x10 // VP8 descriptor: start of partition 0
		if i%10 != 1 {
			vp[1] = 0x01 // inverse keyframe bit: an inter frame
		}
		binary.BigEndian.PutUint32(vp[3:], i)
		_ = p.video.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: uint16(i), Timestamp: i * 900}, Payload: vp})
		ap := make([]byte, 6)
		ap[0] = 0xfc
		binary.BigEndian.PutUint32(ap[2:], i)
		_ = p.audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: i * 480}, Payload: ap})
	}
}

// sent is the counter of the last packets handed to Pion.
func (p *publisher) sent() uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counter
}

func (p *publisher) close() {
	p.once.Do(func() {
		close(p.stop)
		p.mu.Lock()
		started := p.started
		p.mu.Unlock()
		if started {
			<-p.done
		}
		_ = p.pc.Close()
	})
}

// rxPacket is one packet a viewer received.
type rxPacket struct {
	counter uint32
	at      time.Time
}

// viewer receives with pairs recvonly audio+video m-lines and records
// every packet by mid.
type viewer struct {
	pc    *webrtc.PeerConnection
	offer string
	wg    sync.WaitGroup

	mu  sync.Mutex
	got map[string][]rxPacket
}

func newViewer(t testing.TB, pairs int) *viewer {
	t.Helper()
	pc, err := pionAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	v := &viewer{pc: pc, got: map[string][]rxPacket{}}
	for range pairs {
		for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
			if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
				t.Fatal(err)
			}
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		v.wg.Add(1)
		defer v.wg.Done()
		var mid string
		for _, x := range pc.GetTransceivers() {
			if x.Receiver() == recv {
				mid = x.Mid()
			}
		}
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			g := rxPacket{at: time.Now()}
			if tr.Kind() == webrtc.RTPCodecTypeVideo && len(pkt.Payload) >= 7 {
				g.counter = binary.BigEndian.Uint32(pkt.Payload[3:])
			} else if tr.Kind() == webrtc.RTPCodecTypeAudio && len(pkt.Payload) >= 6 {
				g.counter = binary.BigEndian.Uint32(pkt.Payload[2:])
			}
			v.mu.Lock()
			v.got[mid] = append(v.got[mid], g)
			v.mu.Unlock()
		}
	})
	v.offer = gathered(t, pc)
	t.Cleanup(func() {
		_ = v.pc.Close()
		v.wg.Wait()
	})
	return v
}

func (v *viewer) answer(t testing.TB, sdp string) {
	t.Helper()
	if err := v.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		t.Fatalf("viewer: set answer: %v", err)
	}
}

// mid is the mid of the k-th m-line of kind (0-based), the seat-slot rule's
// k-th seat.
func (v *viewer) mid(t testing.TB, kind webrtc.RTPCodecType, k int) string {
	t.Helper()
	for _, tr := range v.pc.GetTransceivers() {
		if tr.Kind() != kind {
			continue
		}
		if k == 0 {
			return tr.Mid()
		}
		k--
	}
	t.Fatalf("viewer has no %s m-line %d", kind, k)
	return ""
}

func (v *viewer) packets(mid string) []rxPacket {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]rxPacket(nil), v.got[mid]...)
}

func (v *viewer) count(mid string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.got[mid])
}

// httpResult is a finished HTTP exchange.
type httpResult struct {
	status int
	header http.Header
	body   string
}

// doHTTP sends one request with a client that keeps no idle connection
// (so nothing outlives the test). tok "" sends no Authorization.
func doHTTP(t testing.TB, method, url, tok, contentType, body string, extra ...string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpResult{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// post sends an SDP offer to an endpoint ("/whip/room?x").
func post(t testing.TB, env *signaltest.Env, path, tok, offer string) httpResult {
	t.Helper()
	return doHTTP(t, http.MethodPost, env.URL+path, tok, "application/sdp", offer)
}

// mustCreate asserts a 201 with the WHIP/WHEP headers and returns the
// session's Location.
func mustCreate(t testing.TB, res httpResult, proto, room string) string {
	t.Helper()
	if res.status != http.StatusCreated {
		t.Fatalf("POST /%s/%s: %d %q, want 201", proto, room, res.status, res.body)
	}
	loc := res.header.Get("Location")
	m := locationRE.FindStringSubmatch(loc)
	if m == nil || m[1] != proto || m[2] != room {
		t.Fatalf("Location %q is not /%s/%s/<128-bit id>", loc, proto, room)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/sdp" {
		t.Fatalf("answer Content-Type %q", ct)
	}
	if res.header.Get("ETag") == "" {
		t.Fatal("no ETag")
	}
	if res.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatal("no CORS header on the 201")
	}
	if !strings.Contains(res.body, "a=candidate:") {
		t.Fatal("the answer carries no candidate")
	}
	return loc
}

// startWHIP publishes p through WHIP and returns the session's Location.
func startWHIP(t testing.TB, env *signaltest.Env, room, tok string, p *publisher) string {
	t.Helper()
	res := post(t, env, "/whip/"+room, tok, p.offer)
	loc := mustCreate(t, res, "whip", room)
	p.start(t, res.body)
	return loc
}

// startWHEP plays a room through WHEP (query "" or "?seat=N").
func startWHEP(t testing.TB, env *signaltest.Env, room, tok, query string, v *viewer) string {
	t.Helper()
	res := post(t, env, "/whep/"+room+query, tok, v.offer)
	loc := mustCreate(t, res, "whep", room)
	v.answer(t, res.body)
	return loc
}

// member dials and joins a room through the SDK; closed at cleanup.
func member(t testing.TB, env *signaltest.Env, room, user string, role proto.Role, create *client.CreateOptions) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, env.WSURL, env.Token(room, user, role))
	if err != nil {
		t.Fatalf("dial %s: %v", user, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Join(ctx, create); err != nil {
		t.Fatalf("%s join: %v", user, err)
	}
	return c
}

func ctx10(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
