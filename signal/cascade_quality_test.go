package signal_test

import (
	"encoding/binary"
	"encoding/json"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/internal/redistest"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// simPublisher is a simulcast publisher as a browser is one: three RID
// encodings (q, h, f) of VP8 on one m-line, plus Opus, each packet stamped
// with its MID and RID header extensions.
type simPublisher struct {
	pc     *webrtc.PeerConnection
	tracks [3]*webrtc.TrackLocalStaticRTP
	audio  *webrtc.TrackLocalStaticRTP
	rtpTr  *webrtc.RTPTransceiver
	midID  uint8
	ridID  uint8
	stop   chan struct{}
	wg     sync.WaitGroup
	offer  string
}

var simRIDs = [3]string{"q", "h", "f"}

func newSimPublisher(t *testing.T) *simPublisher {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(me); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	p := &simPublisher{pc: pc, stop: make(chan struct{})}
	for l, rid := range simRIDs {
		if p.tracks[l], err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
			"v", "pub", webrtc.WithRTPStreamID(rid)); err != nil {
			t.Fatal(err)
		}
	}
	if p.audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "a", "pub"); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(p.audio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	if p.rtpTr, err = pc.AddTransceiverFromTrack(p.tracks[0], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	for _, tk := range p.tracks[1:] {
		if err := p.rtpTr.Sender().AddEncoding(tk); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	p.offer = pc.LocalDescription().SDP
	t.Cleanup(func() {
		close(p.stop)
		_ = pc.Close()
		p.wg.Wait()
	})
	return p
}

// start applies the answer and sends 30 frames a second on every layer.
func (p *simPublisher) start(t *testing.T, answer string) {
	t.Helper()
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	for _, ext := range p.rtpTr.Sender().GetParameters().HeaderExtensions {
		switch ext.URI {
		case sdp.SDESMidURI:
			p.midID = uint8(ext.ID)
		case sdp.SDESRTPStreamIDURI:
			p.ridID = uint8(ext.ID)
		}
	}
	if p.midID == 0 || p.ridID == 0 {
		t.Fatal("the answer negotiated no MID/RID extension")
	}
	for _, rid := range simRIDs { // drain RTCP, as a browser does
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				if _, _, err := p.rtpTr.Sender().ReadSimulcastRTCP(rid); err != nil {
					return
				}
			}
		}()
	}
	p.wg.Add(1)
	go p.run()
}

func (p *simPublisher) run() {
	defer p.wg.Done()
	tick := time.NewTicker(33 * time.Millisecond)
	defer tick.Stop()
	var seq [3]uint16
	mid := p.rtpTr.Mid()
	for frame := uint32(1); ; frame++ {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		ap := []byte{0xfc, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(ap[1:], frame)
		_ = p.audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(frame), Timestamp: frame * 1440}, Payload: ap})
		for l, tk := range p.tracks {
			seq[l]++
			payload := make([]byte, 200*(l+1))
			payload[0], payload[1] = 0x10, 0x01
			if frame%10 == 1 {
				payload[1] = 0x00 // a keyframe every 10th frame
			}
			binary.BigEndian.PutUint32(payload[2:], frame)
			h := rtp.Header{Version: 2, SequenceNumber: seq[l], Timestamp: frame * 3000, Marker: true}
			_ = h.SetExtension(p.midID, []byte(mid))
			_ = h.SetExtension(p.ridID, []byte(simRIDs[l]))
			_ = tk.WriteRTP(&rtp.Packet{Header: h, Payload: payload})
		}
	}
}

// TestCascadeQualityReachesPublisher: the owner publishes simulcast on
// node a, which hosts the room; its only viewers watch through node b.
// Their rtc.setQuality choices reach the host through b's one cascade
// subscription as the best any of them wants, so the owner's
// rtc.publisherLayers follows viewers on another node: low when the only
// one asks for low, high again when a second arrives, nothing when both
// turn seat 0 off.
func TestCascadeQualityReachesPublisher(t *testing.T) {
	rd := redistest.Start(t)
	secret := newSecret(t)
	a := clusterNode(t, rd, secret)
	b := clusterNode(t, rd, secret)
	owner, _ := join(t, a, "r1", "owner", proto.RoleOwner, map[string]any{"create": map[string]any{"maxSeats": 2}})
	pub := newSimPublisher(t)
	var pubRes proto.SDPResult
	call(t, owner, proto.MethodRTCPublish, proto.SDPParams{SDP: pub.offer}, &pubRes)
	pub.start(t, pubRes.SDP)

	// layers waits for the owner's latest rtc.publisherLayers to be want.
	layers := func(what string, want proto.PublisherLayersNote) {
		t.Helper()
		var last proto.PublisherLayersNote
		eventually(t, what, func() bool {
			for _, n := range owner.Notes() {
				if n.Method == proto.NoteRTCPublisherLayers {
					_ = json.Unmarshal(n.Params, &last)
				}
			}
			return last == want
		})
	}
	// Nobody watches yet: the publisher is told to stop every layer.
	layers("no layer wanted before any viewer", proto.PublisherLayersNote{})

	w1, _, _ := watchThrough(t, b, "r1", "w1", 2)
	if b.SFU.Room("cascade:r1") == nil {
		t.Fatal("node b serves its viewer without a cascade: the test would prove nothing")
	}
	layers("the high layer for b's viewer", proto.PublisherLayersNote{High: true})
	call(t, w1, proto.MethodRTCSetQuality, map[string]any{"seatIndex": 0, "quality": "low"}, nil)
	layers("only the low layer once b's only viewer asks for low", proto.PublisherLayersNote{Low: true})

	w2, _, _ := watchThrough(t, b, "r1", "w2", 2)
	layers("the high layer again for b's second viewer", proto.PublisherLayersNote{High: true})
	if n := a.SFU.Room("r1").ViewerCount(); n != 1 {
		t.Fatalf("the host serves %d subscriptions for b's two viewers, want 1", n)
	}
	call(t, w2, proto.MethodRTCSetQuality, map[string]any{"seatIndex": 0, "quality": "off"}, nil)
	layers("the low layer: w1 wants low, w2 nothing", proto.PublisherLayersNote{Low: true})
	call(t, w1, proto.MethodRTCSetQuality, map[string]any{"seatIndex": 0, "quality": "off"}, nil)
	layers("no layer once both turned seat 0 off", proto.PublisherLayersNote{})
}
