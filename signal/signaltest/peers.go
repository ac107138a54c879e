package signaltest

// Pion peers for media tests: a publisher of synthetic, counter-stamped
// audio and video, and a viewer that records every packet it receives by
// mid. They use nothing of the server, so any edge (WHIP/WHEP, JSON-RPC)
// can carry their offers.

import (
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// PionAPI is a Pion API for test clients: loopback only, default codecs,
// no interceptors.
func PionAPI(t testing.TB) *webrtc.API {
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

// Gathered creates pc's offer and waits for its candidates.
func Gathered(t testing.TB, pc *webrtc.PeerConnection) string {
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

// Publisher sends synthetic media once answered: Opus-shaped audio and VP8
// video (a keyframe every 10th frame) every 10 ms, each payload stamped
// with a counter so a Viewer can tell when it was sent.
type Publisher struct {
	pc           *webrtc.PeerConnection
	audio, video *webrtc.TrackLocalStaticRTP
	Offer        string

	mu      sync.Mutex
	counter uint32
	started bool
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// NewPublisher offers sendonly audio and video; Start sends once answered.
// It is closed at cleanup.
func NewPublisher(t testing.TB) *Publisher {
	t.Helper()
	pc, err := PionAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	p := &Publisher{pc: pc, stop: make(chan struct{}), done: make(chan struct{})}
	p.audio, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "a", "pub")
	p.video, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "v", "pub")
	for _, tr := range []webrtc.TrackLocal{p.audio, p.video} {
		if _, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	p.Offer = Gathered(t, pc)
	t.Cleanup(p.Close)
	return p
}

// Start applies the answer and starts sending.
func (p *Publisher) Start(t testing.TB, answer string) {
	t.Helper()
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatalf("publisher: set answer: %v", err)
	}
	p.mu.Lock()
	p.started = true
	p.mu.Unlock()
	go p.run()
}

func (p *Publisher) run() {
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

// Sent is the counter of the last packets handed to Pion.
func (p *Publisher) Sent() uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counter
}

// Close stops sending and closes the peer connection; safe to call twice.
func (p *Publisher) Close() {
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

// RxPacket is one packet a Viewer received.
type RxPacket struct {
	Counter uint32
	At      time.Time
}

// Viewer receives with pairs recvonly audio+video m-lines and records
// every packet by mid.
type Viewer struct {
	PC    *webrtc.PeerConnection
	Offer string
	wg    sync.WaitGroup

	mu  sync.Mutex
	got map[string][]RxPacket
}

// NewViewer offers pairs recvonly audio+video m-lines; it is closed at
// cleanup.
func NewViewer(t testing.TB, pairs int) *Viewer {
	t.Helper()
	pc, err := PionAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	v := &Viewer{PC: pc, got: map[string][]RxPacket{}}
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
			g := RxPacket{At: time.Now()}
			if tr.Kind() == webrtc.RTPCodecTypeVideo && len(pkt.Payload) >= 7 {
				g.Counter = binary.BigEndian.Uint32(pkt.Payload[3:])
			} else if tr.Kind() == webrtc.RTPCodecTypeAudio && len(pkt.Payload) >= 6 {
				g.Counter = binary.BigEndian.Uint32(pkt.Payload[2:])
			}
			v.mu.Lock()
			v.got[mid] = append(v.got[mid], g)
			v.mu.Unlock()
		}
	})
	v.Offer = Gathered(t, pc)
	t.Cleanup(func() {
		_ = v.PC.Close()
		v.wg.Wait()
	})
	return v
}

// Answer applies the SDP answer.
func (v *Viewer) Answer(t testing.TB, sdp string) {
	t.Helper()
	if err := v.PC.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		t.Fatalf("viewer: set answer: %v", err)
	}
}

// Mid is the mid of the k-th m-line of kind (0-based), the seat-slot rule's
// k-th seat.
func (v *Viewer) Mid(t testing.TB, kind webrtc.RTPCodecType, k int) string {
	t.Helper()
	for _, tr := range v.PC.GetTransceivers() {
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

// Packets is a copy of what arrived on mid so far.
func (v *Viewer) Packets(mid string) []RxPacket {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]RxPacket(nil), v.got[mid]...)
}

// Count is how many packets arrived on mid so far.
func (v *Viewer) Count(mid string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.got[mid])
}
