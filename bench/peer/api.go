// Package peer is the load generator's cast: synthetic publishers that send
// pre-generated RTP, and lightweight viewers that never decode — they read
// RTP, follow sequence numbers, read each payload's stamp for latency and
// note when keyframes and new sources arrive. Many hundreds fit in one
// process.
package peer

import (
	"fmt"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/webrtc/v4"
)

// Payload types the generator offers; any SFU may remap them in its answer.
const (
	PayloadVP8  = 96
	PayloadOpus = 111
)

// NewAPI builds the webrtc API the bench viewers use: VP8 and Opus only,
// host candidates on loopback only, no mDNS, and no interceptors at all —
// an explicitly empty registry, because webrtc.NewAPI installs Pion's
// defaults (NACK generator and responder, RTCP reports, TWCC, stats) when
// given none. A viewer therefore sends no RTCP whatsoever: no NACK, no
// receiver report, no TWCC feedback, no PLI. Its offer still advertises
// nack, nack pli and ccm fir, as a browser's does, so a server keeps the
// retransmission and keyframe machinery it would keep for a real viewer;
// loss a viewer sees is simply never repaired, so "unrecovered" is the
// forwarder's loss. That keeps a viewer to a socket, a few Pion goroutines
// and one reader per track.
func NewAPI() (*webrtc.API, error) {
	m, s, err := engines()
	if err != nil {
		return nil, err
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s), webrtc.WithInterceptorRegistry(&interceptor.Registry{})), nil
}

// NewNACKingAPI builds the API of viewers that repair loss: NewAPI plus
// exactly one interceptor, a NACK generator. Such a viewer asks for every
// missing packet, up to 10 times as a browser does, and sends no other RTCP (no receiver reports, TWCC or
// PLI), so "unrecovered" then measures loss after the server's repair.
func NewNACKingAPI() (*webrtc.API, error) {
	m, s, err := engines()
	if err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	// At most 10 NACKs per lost packet, as a browser (libwebrtc's
	// kMaxNackRetries): Pion's default asks again every 100 ms until the
	// packet is 512 packets old, ~35 times at a viewer's video rate, which
	// turned a join burst's losses into millions of NACKs a second.
	gen, err := nack.NewGeneratorInterceptor(nack.GeneratorMaxNacksPerPacket(10))
	if err != nil {
		return nil, fmt.Errorf("peer: NACK generator: %w", err)
	}
	reg.Add(gen)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s), webrtc.WithInterceptorRegistry(reg)), nil
}

// NewPublisherAPI builds the API the synthetic publishers use: NewAPI's
// codecs and network, plus exactly two interceptors, what a real sender
// keeps — a NACK responder (so a server's NACKs for ingress loss are
// answered from a send buffer) and RTCP sender reports (which servers use
// for lip sync and round-trip times). No TWCC, no receiver-side NACK.
func NewPublisherAPI() (*webrtc.API, error) {
	m, s, err := engines()
	if err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	responder, err := nack.NewResponderInterceptor()
	if err != nil {
		return nil, fmt.Errorf("peer: NACK responder: %w", err)
	}
	reg.Add(responder)
	reports, err := report.NewSenderInterceptor()
	if err != nil {
		return nil, fmt.Errorf("peer: sender reports: %w", err)
	}
	reg.Add(reports)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s), webrtc.WithInterceptorRegistry(reg)), nil
}

// engines returns the codecs and network settings every bench peer shares.
func engines() (*webrtc.MediaEngine, webrtc.SettingEngine, error) {
	m := &webrtc.MediaEngine{}
	var s webrtc.SettingEngine
	fb := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb},
		PayloadType:        PayloadVP8,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, s, fmt.Errorf("peer: register VP8: %w", err)
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType:        PayloadOpus,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, s, fmt.Errorf("peer: register Opus: %w", err)
	}
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetIncludeLoopbackCandidate(true)
	s.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetICETimeouts(5*time.Second, 10*time.Second, time.Second)
	s.SetReceiveMTU(1500)
	n, err := newBufferedNet()
	if err != nil {
		return nil, s, fmt.Errorf("peer: network: %w", err)
	}
	s.SetNet(n)
	return m, s, nil
}

// gathered creates pc's local description from sdp and waits until ICE
// gathering is done, so the SDP carries every candidate (bench signalling
// does not trickle).
func gathered(pc *webrtc.PeerConnection, desc webrtc.SessionDescription, timeout time.Duration) (string, error) {
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(desc); err != nil {
		return "", err
	}
	select {
	case <-done:
	case <-time.After(timeout):
		return "", fmt.Errorf("peer: ICE gathering took over %v", timeout)
	}
	return pc.LocalDescription().SDP, nil
}
