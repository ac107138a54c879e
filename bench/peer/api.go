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
	"github.com/pion/webrtc/v4"
)

// Payload types the generator offers; any SFU may remap them in its answer.
const (
	PayloadVP8  = 96
	PayloadOpus = 111
)

// NewAPI builds the webrtc API every bench peer uses: VP8 and Opus only, no
// interceptors (no NACK buffers, reports or TWCC goroutines per peer), host
// candidates on loopback only, and no mDNS. That keeps a viewer to a socket,
// a few Pion goroutines and one reader per track.
func NewAPI() (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb},
		PayloadType:        PayloadVP8,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, fmt.Errorf("peer: register VP8: %w", err)
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType:        PayloadOpus,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("peer: register Opus: %w", err)
	}
	var s webrtc.SettingEngine
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetIncludeLoopbackCandidate(true)
	s.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetICETimeouts(5*time.Second, 10*time.Second, time.Second)
	s.SetReceiveMTU(1500)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s)), nil
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
