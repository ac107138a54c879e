package sfu

import (
	"encoding/binary"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/seatsfu/seatsfu/seat"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// recorder is a Notifier that keeps every delivery.
type recorder struct {
	mu sync.Mutex
	ds []seat.Delivery
}

func (n *recorder) Notify(_ *Room, ds []seat.Delivery) {
	n.mu.Lock()
	n.ds = append(n.ds, ds...)
	n.mu.Unlock()
}

func (n *recorder) has(f func(seat.Delivery) bool) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, d := range n.ds {
		if f(d) {
			return true
		}
	}
	return false
}

// withWriters gives a hand-built SFU its writer pool, closed at cleanup.
func withWriters(tb testing.TB, s *SFU) {
	s.writers = newWriterPool(2, nil)
	tb.Cleanup(s.writers.close)
}

func newTestSFU(t testing.TB) *SFU {
	t.Helper()
	return newTestSFUWith(t, func(*Config) {})
}

func newTestSFUWith(t testing.TB, adjust func(*Config)) *SFU {
	t.Helper()
	cfg := Config{
		ListenIP: "127.0.0.1", IncludeLoopback: true,
		ICEDisconnectedTimeout: time.Second, ICEFailedTimeout: 2 * time.Second, ICEKeepaliveInterval: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	adjust(&cfg)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func openTestRoom(t testing.TB, s *SFU, maxSeats int, mode seat.Mode) (*Room, *recorder) {
	t.Helper()
	n := &recorder{}
	r, err := s.OpenRoom(RoomConfig{Notifier: n, Seat: seat.Config{
		RoomID: "r1", MaxSeats: maxSeats, Mode: mode, Clock: realClock{}, Grace: 10 * time.Second,
		Owner: seat.User{UserID: "owner", Name: "Owner", Role: seat.RoleOwner},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return r, n
}

func do(t testing.TB, r *Room, op func(*seat.Room) ([]seat.Delivery, error)) {
	t.Helper()
	if err := r.Do(op); err != nil {
		t.Fatal(err)
	}
}

// seatUser joins user as audience and puts it on seat idx (room in free mode).
func seatUser(t testing.TB, r *Room, user string, idx int) {
	t.Helper()
	do(t, r, func(sr *seat.Room) ([]seat.Delivery, error) {
		_, ds, err := sr.Join(seat.User{UserID: user, Name: user, Role: seat.RoleAudience})
		return ds, err
	})
	do(t, r, func(sr *seat.Room) ([]seat.Delivery, error) {
		_, ds, err := sr.Take(user, idx)
		return ds, err
	})
}

// clientAPI is a Pion API for test clients: loopback only, with Pion's
// default interceptors (NACK generator and responder, reports, TWCC), as a
// browser would have.
func clientAPI(t testing.TB) *webrtc.API {
	t.Helper()
	return clientAPIWith(t, nil)
}

// bareClientAPI is clientAPI without any interceptor: whatever RTCP such a
// client sends or answers, the test does by hand.
func bareClientAPI(t testing.TB) *webrtc.API {
	t.Helper()
	return clientAPIWith(t, &interceptor.Registry{})
}

// clientAPIWith builds a loopback client API with the interceptors of ir
// (nil: Pion's defaults).
func clientAPIWith(t testing.TB, ir *interceptor.Registry) *webrtc.API {
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
	if ir == nil {
		return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(ir))
}

func gatheredOffer(t testing.TB, pc *webrtc.PeerConnection) string {
	t.Helper()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-done
	return pc.LocalDescription().SDP
}

// testPublisher sends synthetic media: VP8 packets (a keyframe every 10th)
// and Opus packets every 10 ms. Each payload carries the publisher's tag and
// a counter so viewers can tell whose packet it is and when it was sent.
type testPublisher struct {
	pc      *webrtc.PeerConnection
	audio   *webrtc.TrackLocalStaticRTP
	video   *webrtc.TrackLocalStaticRTP
	tag     byte
	sent    sync.Mutex
	counter uint32
	stop    chan struct{}
	done    chan struct{}

	// keyEvery makes every keyEvery-th frame a keyframe; 0 means only the
	// first frame and those a PLI asked for. Set before start.
	keyEvery uint32
	plis     atomic.Int64 // PLIs received on the video sender
	nackMu   sync.Mutex
	nacked   []uint16 // sequence numbers the server NACKed on the video sender
	pliMu    sync.Mutex
	pliAt    []time.Time  // when each PLI arrived
	wantKey  atomic.Bool  // a PLI arrived: the next frame is a keyframe
	keys     atomic.Int64 // keyframes sent
	rtcpDone chan struct{}
}

func newPublisherPC(t testing.TB, api *webrtc.API) (*testPublisher, string) {
	t.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	p := &testPublisher{pc: pc, stop: make(chan struct{}), done: make(chan struct{}), keyEvery: 10, rtcpDone: make(chan struct{})}
	p.audio, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "a", "s")
	p.video, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "v", "s")
	for _, tr := range []webrtc.TrackLocal{p.audio, p.video} {
		if _, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	return p, gatheredOffer(t, pc)
}

// startPublisher publishes as user into r and starts sending, a keyframe
// every 10th frame.
func startPublisher(t testing.TB, r *Room, api *webrtc.API, user string, tag byte) (*testPublisher, *Peer) {
	t.Helper()
	return startPublisherKeys(t, r, api, user, tag, 10)
}

// startPublisherKeys is startPublisher with a keyframe every keyEvery-th
// frame (0: only the first and those a PLI asks for).
func startPublisherKeys(t testing.TB, r *Room, api *webrtc.API, user string, tag byte, keyEvery uint32) (*testPublisher, *Peer) {
	t.Helper()
	p, offer := newPublisherPC(t, api)
	p.tag, p.keyEvery = tag, keyEvery
	peer, answer, err := r.Publish(user, offer)
	if err != nil {
		_ = p.pc.Close()
		t.Fatalf("publish %s: %v", user, err)
	}
	checkCandidates(t, answer, r.s.Addr().Port)
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	go p.run()
	go p.readRTCP()
	t.Cleanup(p.close)
	return p, peer
}

// readRTCP counts the PLIs the server sends the publisher and asks the next
// frame to be a keyframe, as an encoder would.
func (p *testPublisher) readRTCP() {
	defer close(p.rtcpDone)
	var sender *webrtc.RTPSender
	for _, s := range p.pc.GetSenders() {
		if s.Track() == p.video {
			sender = s
		}
	}
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			if n, ok := pkt.(*rtcp.TransportLayerNack); ok {
				p.nackMu.Lock()
				for _, pair := range n.Nacks {
					p.nacked = append(p.nacked, pair.PacketList()...)
				}
				p.nackMu.Unlock()
			}
			if _, ok := pkt.(*rtcp.PictureLossIndication); ok {
				p.pliMu.Lock()
				p.pliAt = append(p.pliAt, time.Now())
				p.pliMu.Unlock()
				p.plis.Add(1)
				p.wantKey.Store(true)
			}
		}
	}
}

func (p *testPublisher) run() {
	defer close(p.done)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var seq uint16
	var i uint32
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		i++
		seq++
		p.sent.Lock()
		p.counter = i
		p.sent.Unlock()
		vp := make([]byte, 8)
		vp[0] = 0x10 // VP8 descriptor: S=1, partition 0
		key := i == 1 || (p.keyEvery > 0 && i%p.keyEvery == 1)
		if p.wantKey.Swap(false) {
			key = true
		}
		if key {
			p.keys.Add(1)
		} else {
			vp[1] = 0x01 // inverse keyframe bit set: an inter frame
		}
		vp[2] = p.tag
		binary.BigEndian.PutUint32(vp[3:], i)
		_ = p.video.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: seq, Timestamp: i * 900}, Payload: vp})
		ap := []byte{0xfc, p.tag, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(ap[2:], i)
		_ = p.audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: i * 480}, Payload: ap})
	}
}

// nacks returns the sequence numbers the server NACKed so far.
func (p *testPublisher) nacks() []uint16 {
	p.nackMu.Lock()
	defer p.nackMu.Unlock()
	return append([]uint16(nil), p.nacked...)
}

// pliTimes returns when each PLI arrived, oldest first.
func (p *testPublisher) pliTimes() []time.Time {
	p.pliMu.Lock()
	defer p.pliMu.Unlock()
	return append([]time.Time(nil), p.pliAt...)
}

// sentCounter is the counter of the last packet pair handed to Pion.
func (p *testPublisher) sentCounter() uint32 {
	p.sent.Lock()
	defer p.sent.Unlock()
	return p.counter
}

func (p *testPublisher) close() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
	_ = p.pc.GracefulClose()
	<-p.rtcpDone
}

// rx is one received packet as a test viewer saw it.
type rx struct {
	ssrc    uint32
	seq     uint16
	ts      uint32
	tag     byte
	counter uint32
	key     bool
	at      time.Time
}

// testViewer subscribes with pairs audio+video m-lines and records every
// packet per mid.
type testViewer struct {
	pc    *webrtc.PeerConnection
	slots []Slot
	mu    sync.Mutex
	got   map[string][]rx   // by mid
	ssrcs map[string]uint32 // by mid, once the track arrived
	wg    sync.WaitGroup
}

func startViewer(t testing.TB, r *Room, api *webrtc.API, user string, pairs int, read bool) *testViewer {
	t.Helper()
	return startViewerOpts(t, r, api, user, pairs, read, nil)
}

// startViewerHook is startViewer for a reading viewer whose connection
// hook may instrument before it offers.
func startViewerHook(t testing.TB, r *Room, api *webrtc.API, user string, pairs int, hook func(*webrtc.PeerConnection)) *testViewer {
	t.Helper()
	return startViewerOpts(t, r, api, user, pairs, true, hook)
}

func startViewerOpts(t testing.TB, r *Room, api *webrtc.API, user string, pairs int, read bool, hook func(*webrtc.PeerConnection)) *testViewer {
	t.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	if hook != nil {
		hook(pc)
	}
	v := &testViewer{pc: pc, got: map[string][]rx{}, ssrcs: map[string]uint32{}}
	for i := 0; i < pairs; i++ {
		for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
			if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
				t.Fatal(err)
			}
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		var mid string
		for _, x := range pc.GetTransceivers() {
			if x.Receiver() == recv {
				mid = x.Mid()
			}
		}
		v.mu.Lock()
		v.ssrcs[mid] = uint32(tr.SSRC())
		v.mu.Unlock()
		if !read {
			return
		}
		v.wg.Add(1)
		defer v.wg.Done()
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			g := rx{ssrc: pkt.SSRC, seq: pkt.SequenceNumber, ts: pkt.Timestamp, at: time.Now()}
			if tr.Kind() == webrtc.RTPCodecTypeVideo && len(pkt.Payload) >= 7 {
				g.tag, g.counter, g.key = pkt.Payload[2], binary.BigEndian.Uint32(pkt.Payload[3:]), pkt.Payload[1]&1 == 0
			} else if len(pkt.Payload) >= 6 {
				g.tag, g.counter = pkt.Payload[1], binary.BigEndian.Uint32(pkt.Payload[2:])
			}
			v.mu.Lock()
			v.got[mid] = append(v.got[mid], g)
			v.mu.Unlock()
		}
	})
	_, answer, slots, err := r.Subscribe(user, gatheredOffer(t, pc), 0)
	if err != nil {
		_ = pc.Close()
		t.Fatalf("subscribe: %v", err)
	}
	v.slots = slots
	checkCandidates(t, answer, r.s.Addr().Port)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = pc.GracefulClose()
		v.wg.Wait()
	})
	return v
}

// mid returns the mid of seat idx's slot of kind.
func (v *testViewer) mid(t testing.TB, idx int, kind string) string {
	t.Helper()
	for _, s := range v.slots {
		if s.SeatIndex == idx && s.Kind == kind {
			return s.Mid
		}
	}
	t.Fatalf("no %s slot for seat %d in %+v", kind, idx, v.slots)
	return ""
}

func (v *testViewer) packets(mid string) []rx {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]rx(nil), v.got[mid]...)
}

// ssrc is the SSRC of mid's track, 0 before it arrived.
func (v *testViewer) ssrc(mid string) uint32 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.ssrcs[mid]
}

func (v *testViewer) count(mid string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.got[mid])
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func counterValue(t testing.TB, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// checkCandidates asserts the answer carries candidates (no trickle) and
// that every one is the media port: the server opens no other UDP socket.
func checkCandidates(t testing.TB, answer string, port int) {
	t.Helper()
	n := 0
	for _, line := range strings.Split(answer, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "a=candidate:") {
			continue
		}
		n++
		f := strings.Fields(line)
		if len(f) < 8 || f[5] != strconv.Itoa(port) || f[7] != "host" {
			t.Fatalf("candidate %q is not a host candidate on the media port %d", line, port)
		}
	}
	if n == 0 {
		t.Fatalf("answer carries no candidate:\n%s", answer)
	}
}

func gaugeValue(t testing.TB, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}
