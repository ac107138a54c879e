package load

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// SimPublisher is a Pion peer publishing a synthetic camera as a browser
// publishes simulcast (PROTOCOL.md §9): three RID encodings q/h/f of VP8
// on one m-line at about 150 kbit/s, 500 kbit/s and 1.5 Mbit/s, 30 frames
// a second, plus Opus. Each video payload carries frame|layer<<28 after the
// VP8 descriptor so a viewer can tell the layers apart. A keyframe every
// two seconds per layer, and on a PLI for that layer.
type SimPublisher struct {
	pc     *webrtc.PeerConnection
	tracks [numSimLayers]*webrtc.TrackLocalStaticRTP
	audio  *webrtc.TrackLocalStaticRTP
	sender *webrtc.RTPSender
	midID  uint8
	ridID  uint8
	mid    string
	keyAsk [numSimLayers]atomic.Bool
	single bool
	stop   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

const numSimLayers = 3

var (
	simRIDs = [numSimLayers]string{"q", "h", "f"}
	// Packets per frame and their size: 30 fps × parts × size × 8 ≈
	// 150 kbit/s, 500 kbit/s and 1.5 Mbit/s.
	simParts    = [numSimLayers]int{1, 2, 6}
	simPartSize = [numSimLayers]int{620, 1040, 1040}
)

const (
	simFrameEvery = 33 * time.Millisecond
	simKeyEvery   = 60 // frames
)

// simAPI is a webrtc API that negotiates what a browser's simulcast
// publisher does: MID/RID header extensions and transport-wide numbering.
func simAPI() (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		PayloadType: 111}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
		RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}}}, PayloadType: 96}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, err
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(me); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(me, ir); err != nil {
		return nil, err
	}
	me.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}, webrtc.RTPCodecTypeVideo)
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(loopbackEngine()), webrtc.WithInterceptorRegistry(ir)), nil
}

// loopbackEngine gathers one IPv4 loopback UDP candidate, no mDNS.
func loopbackEngine() webrtc.SettingEngine {
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return se
}

// NewSimPublisher builds the publisher; publish gets its gathered offer
// and returns the server's answer. single publishes the high layer alone,
// as one plain encoding (today's single-layer publisher, to compare).
func NewSimPublisher(single bool, publish func(offer string) (string, error)) (*SimPublisher, error) {
	api, err := simAPI()
	if err != nil {
		return nil, err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	p := &SimPublisher{pc: pc, stop: make(chan struct{}), single: single}
	fail := func(err error) (*SimPublisher, error) {
		_ = pc.Close()
		return nil, fmt.Errorf("load: simulcast publisher: %w", err)
	}
	for l, rid := range simRIDs {
		var opts []func(*webrtc.TrackLocalStaticRTP)
		if !single {
			opts = append(opts, webrtc.WithRTPStreamID(rid))
		}
		if p.tracks[l], err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
			"v", "pub", opts...); err != nil {
			return fail(err)
		}
	}
	first := 0
	if single {
		first = numSimLayers - 1
	}
	if p.audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "a", "pub"); err != nil {
		return fail(err)
	}
	atr, err := pc.AddTransceiverFromTrack(p.audio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return fail(err)
	}
	tr, err := pc.AddTransceiverFromTrack(p.tracks[first], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return fail(err)
	}
	for _, tk := range p.tracks[first+1:] {
		if err := tr.Sender().AddEncoding(tk); err != nil {
			return fail(err)
		}
	}
	p.sender = tr.Sender()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return fail(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return fail(err)
	}
	<-gathered
	answer, err := publish(pc.LocalDescription().SDP)
	if err != nil {
		return fail(err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return fail(err)
	}
	// Pion's sender does not stamp the MID and RID header extensions; a
	// browser does. Their negotiated ids:
	p.mid = tr.Mid()
	for _, ext := range p.sender.GetParameters().HeaderExtensions {
		switch ext.URI {
		case sdp.SDESMidURI:
			p.midID = uint8(ext.ID)
		case sdp.SDESRTPStreamIDURI:
			p.ridID = uint8(ext.ID)
		}
	}
	if !single && (p.midID == 0 || p.ridID == 0) {
		return fail(fmt.Errorf("the answer negotiated no MID/RID extension"))
	}
	if single {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				pkts, _, err := p.sender.ReadRTCP()
				if err != nil {
					return
				}
				for _, pk := range pkts {
					switch pk.(type) {
					case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
						p.keyAsk[first].Store(true)
					}
				}
			}
		}()
	}
	for l, rid := range simRIDs {
		if single {
			break
		}
		p.wg.Add(1)
		go func() { // a layer's RTCP: PLIs ask that layer for a keyframe
			defer p.wg.Done()
			for {
				pkts, _, err := p.sender.ReadSimulcastRTCP(rid)
				if err != nil {
					return
				}
				for _, pk := range pkts {
					switch pk.(type) {
					case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
						p.keyAsk[l].Store(true)
					}
				}
			}
		}()
	}
	p.wg.Add(1)
	go func() { // drained so Pion's reads do not back up
		defer p.wg.Done()
		for {
			if _, _, err := atr.Sender().ReadRTCP(); err != nil {
				return
			}
		}
	}()
	p.wg.Add(1)
	go p.run()
	return p, nil
}

func (p *SimPublisher) run() {
	defer p.wg.Done()
	tick := time.NewTicker(simFrameEvery)
	defer tick.Stop()
	var seq [numSimLayers]uint16
	var aseq uint16
	var frame uint32
	epoch := time.Now()
	payload := make([]byte, 1200)
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		if p.pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
			continue
		}
		frame++
		ts := uint32(time.Since(epoch) * 90000 / time.Second)
		aseq++
		ap := []byte{0xfc, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(ap[1:], frame)
		_ = p.audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: aseq, Timestamp: ts * 48 / 90}, Payload: ap})
		for l, tk := range p.tracks {
			if p.single && l != numSimLayers-1 {
				continue
			}
			key := frame%simKeyEvery == uint32(l*simKeyEvery/numSimLayers) || p.keyAsk[l].Swap(false)
			for part := range simParts[l] {
				seq[l]++
				b := payload[:simPartSize[l]]
				b[0], b[1] = 0x00, 0x01 // VP8 continuation, inter
				if part == 0 {
					b[0] = 0x10
					if key {
						b[1] = 0x00 // a keyframe's first partition
					}
				}
				binary.BigEndian.PutUint32(b[2:], frame|uint32(l)<<28)
				h := rtp.Header{Version: 2, SequenceNumber: seq[l], Timestamp: ts + uint32(l)*1000, Marker: part == simParts[l]-1}
				if !p.single {
					_ = h.SetExtension(p.midID, []byte(p.mid))
					_ = h.SetExtension(p.ridID, []byte(simRIDs[l]))
				}
				_ = tk.WriteRTP(&rtp.Packet{Header: h, Payload: b})
			}
		}
	}
}

// Close stops sending and closes the connection.
func (p *SimPublisher) Close() error {
	p.once.Do(func() { close(p.stop) })
	err := p.pc.Close()
	p.wg.Wait()
	return err
}
