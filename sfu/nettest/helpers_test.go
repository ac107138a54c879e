// Package nettest proves the SFU's media survives real networks: Pion
// clients reach a real sfu.SFU on loopback through internal/impair's UDP
// relay (loss, bursts, black holes, corrupted and replayed datagrams), and
// what the viewer receives is counted packet by packet. It uses only the
// sfu package's exported API, and lives apart from sfu's own tests so the
// two run in parallel.
package nettest

import (
	"encoding/binary"
	"log/slog"
	"net"
	"os"
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
	"go.uber.org/goleak"

	"github.com/seatsfu/seatsfu/internal/impair"
	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/sfu"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

type nopNotifier struct{}

func (nopNotifier) Notify(*sfu.Room, []seat.Delivery) {}

// server is an SFU with production ICE timers (a 3 s black hole must not
// fail the connection) and its own metrics registry.
func server(t *testing.T) (*sfu.SFU, *sfu.Room, *prometheus.Registry) {
	t.Helper()
	return serverWith(t, sfu.Config{})
}

// serverWith is server on cfg, completed with the loopback address, the
// registry and a quiet logger.
func serverWith(t *testing.T, cfg sfu.Config) (*sfu.SFU, *sfu.Room, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.ListenIP, cfg.IncludeLoopback, cfg.Registerer = "127.0.0.1", true, reg
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	s, err := sfu.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	r, err := s.OpenRoom(sfu.RoomConfig{Notifier: nopNotifier{}, Seat: seat.Config{
		RoomID: "net", MaxSeats: 2, Mode: seat.ModeFree, Clock: realClock{}, Grace: 10 * time.Second,
		Owner: seat.User{UserID: "owner", Name: "Owner", Role: seat.RoleOwner},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return s, r, reg
}

// clientAPI is a loopback Pion API with Pion's default interceptors — NACK
// generator and responder, reports — and a browser's SRTP replay window. ir replaces
// them when not nil.
func clientAPI(ir *interceptor.Registry) *webrtc.API { return clientAPIWith(ir, false) }

// clientAPIWith is clientAPI, offering RTX for video when rtx is set (Pion's
// default codecs) and only VP8 and Opus otherwise.
func clientAPIWith(ir *interceptor.Registry, rtx bool) *webrtc.API {
	me := &webrtc.MediaEngine{}
	if rtx {
		if err := me.RegisterDefaultCodecs(); err != nil {
			panic(err)
		}
	} else {
		for _, c := range []struct {
			p webrtc.RTPCodecParameters
			k webrtc.RTPCodecType
		}{
			{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}, webrtc.RTPCodecTypeAudio},
			{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
				RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}}}, PayloadType: 96}, webrtc.RTPCodecTypeVideo},
		} {
			if err := me.RegisterCodec(c.p, c.k); err != nil {
				panic(err)
			}
		}
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// Browsers (libwebrtc) keep a 1024-packet SRTP replay window so that
	// late retransmissions are accepted; Pion's default is 64.
	se.SetSRTPReplayProtectionWindow(1024)
	opts := []func(*webrtc.API){webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se)}
	if ir != nil {
		opts = append(opts, webrtc.WithInterceptorRegistry(ir))
	}
	return webrtc.NewAPI(opts...)
}

func gatheredOffer(t *testing.T, pc *webrtc.PeerConnection) string {
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

// leg is how a client reaches the server: directly, or through a relay
// with the given impairment (up: client→server, down: server→client).
type leg struct {
	up, down *impair.Config
}

var direct = leg{}

// connect applies the server's answer to pc, through a relay if the leg is
// impaired: the server only ever sees the relay's address. The relay
// forwards cleanly until the connection is up and impairs from then on: the
// tests measure media, and a seeded burst that happens to fall on the
// handful of ICE checks of a connection's first seconds would only measure
// luck (a mean burst of 8 packets is many seconds of STUN). The relay
// never impairs DTLS: the server's side of the connection is up one flight
// after the client's, and that flight may still be in the relay here.
func connect(t *testing.T, pc *webrtc.PeerConnection, answer string, l leg) *impair.Relay {
	t.Helper()
	var relay *impair.Relay
	if l.up != nil || l.down != nil {
		target, ok := impair.HostCandidate(answer)
		if !ok {
			t.Fatalf("answer without a host candidate:\n%s", answer)
		}
		var err error
		if relay, err = impair.New(target, impair.Config{}, impair.Config{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = relay.Close() })
		answer = impair.RewriteCandidates(answer, relay.Addr())
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	if relay == nil {
		return nil
	}
	eventually(t, 15*time.Second, "the connection through the relay", func() bool {
		return pc.ConnectionState() == webrtc.PeerConnectionStateConnected
	})
	for d, c := range map[impair.Direction]*impair.Config{impair.ClientToTarget: l.up, impair.TargetToClient: l.down} {
		if c != nil {
			if err := relay.SetConfig(d, *c); err != nil {
				t.Fatal(err)
			}
		}
	}
	return relay
}

// offerFor is the client's offer, without candidates when the leg is
// relayed (so the server cannot bypass the relay).
func offerFor(t *testing.T, pc *webrtc.PeerConnection, l leg) string {
	offer := gatheredOffer(t, pc)
	if l.up != nil || l.down != nil {
		offer = impair.StripCandidates(offer)
	}
	return offer
}

// publisher sends synthetic VP8 video, parts packets per 10 ms frame, and
// one Opus packet per frame. Payloads carry the frame counter and the part
// index so the viewer can tell exactly what it missed. A keyframe every
// keyEvery frames, and one for every PLI.
type publisher struct {
	pc       *webrtc.PeerConnection
	video    *webrtc.TrackLocalStaticRTP
	audio    *webrtc.TrackLocalStaticRTP
	parts    int
	keyEvery uint32
	tsBase   uint32
	epoch    time.Time // the capture clock's zero
	frames   atomic.Uint32
	plis     atomic.Int64
	wantKey  atomic.Bool
	stop     chan struct{}
	done     sync.WaitGroup
	stopOnce sync.Once
}

const frameEvery = 10 * time.Millisecond

func startPublisher(t *testing.T, r *sfu.Room, l leg, parts int, keyEvery uint32) (*publisher, *impair.Relay) {
	t.Helper()
	return startPublisherAs(t, r, "owner", l, parts, keyEvery, 0)
}

// startPublisherAs publishes as user, its RTP timestamps starting at
// tsBase frames (so two publishers' clocks differ, as real ones do).
func startPublisherAs(t *testing.T, r *sfu.Room, user string, l leg, parts int, keyEvery, tsBase uint32) (*publisher, *impair.Relay) {
	t.Helper()
	pc, err := clientAPI(nil).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	p := &publisher{pc: pc, parts: parts, keyEvery: keyEvery, tsBase: tsBase, epoch: time.Now(), stop: make(chan struct{})}
	p.video, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "v", "pub")
	p.audio, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "a", "pub")
	var videoSender *webrtc.RTPSender
	for _, tr := range []*webrtc.TrackLocalStaticRTP{p.audio, p.video} {
		x, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			t.Fatal(err)
		}
		if tr == p.video {
			videoSender = x.Sender()
		}
	}
	_, answer, err := r.Publish(user, offerFor(t, pc, l))
	if err != nil {
		t.Fatal(err)
	}
	relay := connect(t, pc, answer, l)
	p.done.Add(2)
	go p.readRTCP(videoSender)
	go p.run()
	t.Cleanup(p.close)
	return p, relay
}

func (p *publisher) readRTCP(s *webrtc.RTPSender) {
	defer p.done.Done()
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			switch pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				p.plis.Add(1)
				p.wantKey.Store(true)
			}
		}
	}
}

func (p *publisher) run() {
	defer p.done.Done()
	tick := time.NewTicker(frameEvery)
	defer tick.Stop()
	var vseq, aseq uint16
	payload := make([]byte, 120)
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		if p.pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
			continue // Pion would drop it; nothing is lost that the viewer should count
		}
		frame := p.frames.Add(1)
		// Timestamps come from a capture clock read once per frame, as a
		// real encoder's do, not from the frame count: the sender reports
		// Pion's interceptor derives from the last packet's send time then
		// map audio and video onto the same instants even when the ticker
		// runs late on a loaded machine.
		captured := time.Since(p.epoch)
		vts := (p.tsBase)*900 + uint32(captured*90000/time.Second)
		ats := (p.tsBase)*480 + uint32(captured*48000/time.Second)
		key := frame == 1 || (p.keyEvery > 0 && frame%p.keyEvery == 1) || p.wantKey.Swap(false)
		for part := 0; part < p.parts; part++ {
			vseq++
			payload[0], payload[1] = 0x00, 0x01 // continuation, inter
			if part == 0 {
				payload[0] = 0x10 // S=1, partition 0
				if key {
					payload[1] = 0x00
				}
			}
			binary.BigEndian.PutUint32(payload[2:], frame)
			payload[6] = byte(part)
			_ = p.video.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: part == p.parts-1,
				SequenceNumber: vseq, Timestamp: vts}, Payload: payload})
		}
		aseq++
		ap := []byte{0xfc, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(ap[1:], frame)
		_ = p.audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: aseq, Timestamp: ats}, Payload: ap})
	}
}

// halt stops sending; the connection stays up.
func (p *publisher) halt() { p.stopOnce.Do(func() { close(p.stop) }) }

func (p *publisher) close() {
	p.halt()
	_ = p.pc.Close()
	p.done.Wait()
}

// got is one packet as the viewer received it.
type got struct {
	seq   uint16
	ssrc  uint32
	ts    uint32
	frame uint32
	part  byte
	key   bool // first packet of a keyframe
	at    time.Time
}

// viewer subscribes to seat 0 (one audio, one video m-line) and records
// every video packet.
type viewer struct {
	pc    *webrtc.PeerConnection
	mu    sync.Mutex
	pkts  []got // video
	audio []got
	srs   []srAt
	wg    sync.WaitGroup
	// repaired counts packets that arrived on the RTX stream.
	repaired atomic.Int64
}

// srAt is a sender report the viewer received.
type srAt struct {
	sr    rtcp.SenderReport
	at    time.Time
	video bool
}

func startViewer(t *testing.T, r *sfu.Room, user string, l leg, ir *interceptor.Registry) (*viewer, *impair.Relay) {
	t.Helper()
	return startViewerRTX(t, r, user, l, ir, false)
}

// startViewerRTX is startViewer offering RTX when rtx is set.
func startViewerRTX(t *testing.T, r *sfu.Room, user string, l leg, ir *interceptor.Registry, rtx bool) (*viewer, *impair.Relay) {
	t.Helper()
	return startViewerSeat(t, r, user, l, ir, rtx, 0)
}

// startViewerSeat subscribes one audio and one video slot carrying seat
// firstSeat.
func startViewerSeat(t *testing.T, r *sfu.Room, user string, l leg, ir *interceptor.Registry, rtx bool, firstSeat int) (*viewer, *impair.Relay) {
	t.Helper()
	pc, err := clientAPIWith(ir, rtx).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	v := &viewer{pc: pc}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		v.wg.Add(2)
		defer v.wg.Done()
		// Read the receiver's RTCP as a browser's stack does, so Pion's
		// receiver-report interceptor sees the SFU's sender reports and
		// echoes them (LSR/DLSR) for the SFU's RTT.
		go func() {
			defer v.wg.Done()
			for {
				pkts, _, err := recv.ReadRTCP()
				if err != nil {
					return
				}
				for _, p := range pkts {
					if sr, ok := p.(*rtcp.SenderReport); ok {
						v.mu.Lock()
						v.srs = append(v.srs, srAt{sr: *sr, at: time.Now(), video: tr.Kind() == webrtc.RTPCodecTypeVideo})
						v.mu.Unlock()
					}
				}
			}
		}()
		video := tr.Kind() == webrtc.RTPCodecTypeVideo
		for {
			pkt, attrs, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if attrs != nil && attrs.Get(webrtc.AttributeRtxSsrc) != nil {
				v.repaired.Add(1)
			}
			g := got{seq: pkt.SequenceNumber, ssrc: pkt.SSRC, ts: pkt.Timestamp, at: time.Now()}
			switch {
			case video && len(pkt.Payload) >= 7:
				g.frame, g.part = binary.BigEndian.Uint32(pkt.Payload[2:]), pkt.Payload[6]
				g.key = pkt.Payload[0]&0x10 != 0 && pkt.Payload[1]&1 == 0
				v.mu.Lock()
				v.pkts = append(v.pkts, g)
				v.mu.Unlock()
			case !video && len(pkt.Payload) >= 5:
				g.frame = binary.BigEndian.Uint32(pkt.Payload[1:])
				v.mu.Lock()
				v.audio = append(v.audio, g)
				v.mu.Unlock()
			}
		}
	})
	_, answer, _, err := r.Subscribe(user, offerFor(t, pc, l), firstSeat)
	if err != nil {
		t.Fatal(err)
	}
	relay := connect(t, pc, answer, l)
	t.Cleanup(func() {
		_ = pc.Close()
		v.wg.Wait()
	})
	return v, relay
}

func (v *viewer) packets() []got {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]got(nil), v.pkts...)
}

func (v *viewer) audioPackets() []got {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]got(nil), v.audio...)
}

func (v *viewer) senderReports() []srAt {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]srAt(nil), v.srs...)
}

func (v *viewer) count() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.pkts)
}

// framePackets counts the distinct video packets of frames first..last
// (the publisher's frame counter) the viewer received.
func (v *viewer) framePackets(first, last uint32) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	seen := map[[2]uint32]bool{}
	for _, p := range v.pkts {
		if p.frame >= first && p.frame <= last {
			seen[[2]uint32{p.frame, uint32(p.part)}] = true
		}
	}
	return len(seen)
}

// loss counts, by sequence number, the video packets between the first and
// the last received that never arrived (retransmissions fill holes).
type loss struct {
	span, missing, dups int
	missed              []uint16
}

func countLoss(ps []got) loss {
	if len(ps) == 0 {
		return loss{}
	}
	seen := map[int64]int{}
	var lo, hi int64
	hiSeq := ps[0].seq
	for _, p := range ps {
		// Extend against the newest so far: arrival order, wraps included.
		ext := hi + int64(int16(p.seq-hiSeq))
		if ext > hi {
			hi, hiSeq = ext, p.seq
		}
		lo = min(lo, ext)
		seen[ext]++
	}
	l := loss{span: int(hi - lo + 1)}
	for s := lo; s <= hi; s++ {
		switch n := seen[s]; {
		case n == 0:
			l.missing++
			if len(l.missed) < 20 {
				l.missed = append(l.missed, uint16(int64(hiSeq)-(hi-s)))
			}
		case n > 1:
			l.dups += n - 1
		}
	}
	return l
}

// settle waits until the viewer's count stops moving for quiet.
func settle(t *testing.T, v *viewer, quiet, limit time.Duration) {
	t.Helper()
	last, since := v.count(), time.Now()
	eventually(t, limit, "the viewer's stream to drain", func() bool {
		if n := v.count(); n != last {
			last, since = n, time.Now()
		}
		return time.Since(since) > quiet
	})
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
