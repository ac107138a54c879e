package nettest

import (
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/sfu"
)

// A real simulcast publisher (Pion, three RID encodings q/h/f on one m-line,
// as a browser sends them) and a real viewer: the SFU receives the three
// layers as one seat's video, the viewer's rtc.setQuality moves its slot
// between them on the same SSRC with continuous sequence numbers, and the
// publisher hears which layers are wanted.

// simPublisher sends three layers; each packet's frame field carries the
// layer in its top bits (frame | layer<<28) so the viewer can tell them
// apart.
type simPublisher struct {
	pc     *webrtc.PeerConnection
	tracks [3]*webrtc.TrackLocalStaticRTP
	audio  *webrtc.TrackLocalStaticRTP
	midID  uint8
	ridID  uint8
	mid    string
	stop   chan struct{}
	done   sync.WaitGroup
	frames atomic.Uint32
	twcc   atomic.Int64 // transport-wide feedback packets the server sent
}

var rids = [3]string{"q", "h", "f"}

// A simulcast publisher sends 30 frames a second, each layer's frame in
// simParts packets of simPartSize bytes: about 150 kbit/s, 500 kbit/s and
// 1.5 Mbit/s, what a browser's 180p/360p/720p layers cost.
var (
	simParts    = [3]int{1, 2, 6}
	simPartSize = [3]int{620, 1040, 1040}
)

const simFrameEvery = 33 * time.Millisecond

func startSimPublisher(t *testing.T, r *sfu.Room, user string, opts ...sfu.PeerOption) *simPublisher {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		PayloadType: 111}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
		RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}}}, PayloadType: 96}, webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(me); err != nil {
		t.Fatal(err)
	}
	// Like a browser, the publisher numbers its packets transport-wide and
	// wants feedback for its own estimation.
	ir := &interceptor.Registry{}
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(me, ir); err != nil {
		t.Fatal(err)
	}
	me.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}, webrtc.RTPCodecTypeVideo)
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(ir)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	p := &simPublisher{pc: pc, stop: make(chan struct{})}
	for l, rid := range rids {
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
	tr, err := pc.AddTransceiverFromTrack(p.tracks[0], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range p.tracks[1:] {
		if err := tr.Sender().AddEncoding(tk); err != nil {
			t.Fatal(err)
		}
	}
	_, answer, err := r.Publish(user, gatheredOffer(t, pc), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	// Pion's sender does not stamp the RID and MID header extensions
	// itself; a browser does. Their negotiated ids:
	p.mid = tr.Mid()
	for _, ext := range tr.Sender().GetParameters().HeaderExtensions {
		switch ext.URI {
		case sdp.SDESMidURI:
			p.midID = uint8(ext.ID)
		case sdp.SDESRTPStreamIDURI:
			p.ridID = uint8(ext.ID)
		}
	}
	if p.midID == 0 || p.ridID == 0 {
		t.Fatalf("the answer negotiated no MID/RID extension: %+v", tr.Sender().GetParameters().HeaderExtensions)
	}
	p.done.Add(1)
	go p.run()
	// Drain every stream's RTCP, as a browser does (Pion's reads back up
	// otherwise); transport-wide feedback names whichever SSRC it likes.
	count := func(pkts []rtcp.Packet) {
		for _, pk := range pkts {
			if _, ok := pk.(*rtcp.TransportLayerCC); ok {
				p.twcc.Add(1)
			}
		}
	}
	for _, rid := range rids {
		p.done.Add(1)
		go func() {
			defer p.done.Done()
			for {
				pkts, _, err := tr.Sender().ReadSimulcastRTCP(rid)
				if err != nil {
					return
				}
				count(pkts)
			}
		}()
	}
	for _, snd := range pc.GetSenders() {
		if snd == tr.Sender() {
			continue
		}
		p.done.Add(1)
		go func() {
			defer p.done.Done()
			for {
				pkts, _, err := snd.ReadRTCP()
				if err != nil {
					return
				}
				count(pkts)
			}
		}()
	}
	t.Cleanup(func() {
		close(p.stop)
		_ = pc.Close()
		p.done.Wait()
	})
	return p
}

func (p *simPublisher) run() {
	defer p.done.Done()
	tick := time.NewTicker(simFrameEvery)
	defer tick.Stop()
	var seq [3]uint16
	var aseq uint16
	epoch := time.Now()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		if p.pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
			continue
		}
		frame := p.frames.Add(1)
		ts := uint32(time.Since(epoch) * 90000 / time.Second)
		{ // an Opus packet a frame
			aseq++
			ap := []byte{0xfc, 0, 0, 0, 0}
			binary.BigEndian.PutUint32(ap[1:], frame)
			_ = p.audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: aseq, Timestamp: ts * 48 / 90}, Payload: ap})
		}
		for l, tk := range p.tracks {
			key := frame%10 == uint32(l*3)%10 // 330 ms groups, staggered
			for part := range simParts[l] {
				seq[l]++
				payload := make([]byte, simPartSize[l])
				payload[0], payload[1] = 0x00, 0x01
				if part == 0 {
					payload[0] = 0x10
					if key {
						payload[1] = 0x00
					}
				}
				binary.BigEndian.PutUint32(payload[2:], frame|uint32(l)<<28)
				payload[6] = byte(part)
				h := rtp.Header{Version: 2, SequenceNumber: seq[l], Timestamp: ts + uint32(l)*1000, Marker: part == simParts[l]-1}
				_ = h.SetExtension(p.midID, []byte(p.mid))
				_ = h.SetExtension(p.ridID, []byte(rids[l]))
				_ = tk.WriteRTP(&rtp.Packet{Header: h, Payload: payload})
			}
		}
	}
}

func layerOf(g got) int { return int(g.frame >> 28) }

func TestSimulcastViewerSwitchesLayersOnOneSSRC(t *testing.T) {
	_, r, _ := server(t)
	var mu sync.Mutex
	var sets []sfu.LayerSet
	pub := startSimPublisher(t, r, "owner", sfu.OnPublisherLayers(func(l sfu.LayerSet) {
		mu.Lock()
		sets = append(sets, l)
		mu.Unlock()
	}))
	pc, err := clientAPI(nil).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	v := &viewer{pc: pc}
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		v.wg.Add(1)
		defer v.wg.Done()
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if len(pkt.Payload) >= 7 {
				v.mu.Lock()
				v.pkts = append(v.pkts, got{seq: pkt.SequenceNumber, ssrc: pkt.SSRC, ts: pkt.Timestamp,
					frame: binary.BigEndian.Uint32(pkt.Payload[2:]), key: pkt.Payload[0]&0x10 != 0 && pkt.Payload[1]&1 == 0})
				v.mu.Unlock()
			}
		}
	})
	peer, answer, _, err := r.Subscribe("viewer", gatheredOffer(t, pc), 0)
	if err != nil {
		t.Fatal(err)
	}
	connect(t, pc, answer, direct)
	t.Cleanup(func() {
		_ = pc.Close()
		v.wg.Wait()
	})
	latest := func() (got, bool) {
		ps := v.packets()
		if len(ps) == 0 {
			return got{}, false
		}
		return ps[len(ps)-1], true
	}
	onLayer := func(l int) {
		t.Helper()
		eventually(t, 10*time.Second, "packets of layer "+rids[l], func() bool {
			g, ok := latest()
			return ok && layerOf(g) == l
		})
	}
	onLayer(2) // high by default
	for _, step := range []struct {
		q sfu.Quality
		l int
	}{{sfu.QualityLow, 0}, {sfu.QualityMedium, 1}, {sfu.QualityHigh, 2}, {sfu.QualityLow, 0}} {
		if err := peer.SetQuality(0, step.q); err != nil {
			t.Fatal(err)
		}
		onLayer(step.l)
	}
	ps := v.packets()
	// The slot may have started on a layer that arrived before high did
	// (Pion announces each layer on its first packet); count from high.
	for len(ps) > 0 && layerOf(ps[0]) != 2 {
		ps = ps[1:]
	}
	switches := 0
	for i := 1; i < len(ps); i++ {
		if ps[i].ssrc != ps[0].ssrc {
			t.Fatalf("SSRC changed at packet %d", i)
		}
		if layerOf(ps[i]) != layerOf(ps[i-1]) {
			switches++
			if !ps[i].key {
				t.Fatalf("switch to %s at packet %d is not on a keyframe", rids[layerOf(ps[i])], i)
			}
			if ps[i].seq != ps[i-1].seq+1 || int32(ps[i].ts-ps[i-1].ts) < 0 {
				t.Fatalf("switch at packet %d: seq %d→%d ts %d→%d", i, ps[i-1].seq, ps[i].seq, ps[i-1].ts, ps[i].ts)
			}
		}
	}
	if switches != 4 {
		var runs []int
		for i, p := range ps {
			if i == 0 || layerOf(p) != layerOf(ps[i-1]) {
				runs = append(runs, layerOf(p))
			}
		}
		t.Fatalf("%d switches on the wire, want 4: layers %v", switches, runs)
	}
	// The publisher gets transport-wide feedback for its own estimation.
	eventually(t, 5*time.Second, "transport-cc feedback to the publisher", func() bool { return pub.twcc.Load() > 0 })
	// The viewer ends on low: high and medium are nobody's.
	eventually(t, 5*time.Second, "rtc.publisherLayers {low}", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(sets) > 0 && sets[len(sets)-1] == sfu.LayerSet{Low: true}
	})
}
