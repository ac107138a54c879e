package sfu

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/sdp/v3"
	"github.com/pion/transport/v4/packetio"
	"github.com/pion/webrtc/v4"
)

// Defaults for the ICE timers. They are short on purpose: a viewer that
// vanished should stop costing a writer and a queue within seconds.
const (
	defaultICEDisconnected = 5 * time.Second
	defaultICEFailed       = 10 * time.Second
	defaultICEKeepalive    = 2 * time.Second
	defaultReceiveMTU      = 1500
	srtpReplayWindow       = 1024
)

// videoCodec returns the room codec's capability as this server offers and
// accepts it. Only one video codec exists per server so every seat slot
// carries the same payload type whoever publishes into it.
func videoCodec(name string) (webrtc.RTPCodecParameters, error) {
	fb := []webrtc.RTCPFeedback{
		{Type: webrtc.TypeRTCPFBNACK},
		{Type: webrtc.TypeRTCPFBNACK, Parameter: "pli"},
		{Type: webrtc.TypeRTCPFBCCM, Parameter: "fir"},
	}
	switch strings.ToLower(name) {
	case "", "vp8":
		return webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb},
			PayloadType:        96,
		}, nil
	case "vp9":
		return webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, SDPFmtpLine: "profile-id=0", RTCPFeedback: fb},
			PayloadType:        98,
		}, nil
	case "h264":
		return webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
				SDPFmtpLine:  "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
				RTCPFeedback: fb,
			},
			PayloadType: 102,
		}, nil
	}
	return webrtc.RTPCodecParameters{}, fmt.Errorf("sfu: unknown video codec %q (want vp8, vp9 or h264)", name)
}

func opusCodec() webrtc.RTPCodecParameters {
	return webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType:        111,
	}
}

// newAPI builds the two webrtc.APIs of the server: one for publish
// connections, one for subscribe connections. They share the media engine's
// codecs, the ICE UDP mux and every setting; they differ only in the
// interceptors, chosen deliberately rather than taking Pion's defaults:
//
//   - Publishers: the NACK generator (asks the publisher to resend what the
//     SFU lost; a 512-bit receive log per up-track). Kept over a loss
//     detector of our own after measuring both on the same stream with 5 %
//     loss (the detector and its benchmark are gone since; the numbers
//     stay): Pion's costs ≤ 660 ns and 3 small allocations per packet and
//     1.2 KB per up-track plus one ticker goroutine per publish connection;
//     ours 83 ns and no allocation, but 32 KB per up-track and a timer the
//     SFU would have to own. At ≤ 16 publishers a room both are noise;
//     Pion's is wired, proven by sfu/nettest's publisher-leg loss test, and
//     answers late retransmissions the same way. And the receiver-report
//     interceptor (RRs with loss, jitter and LSR/DLSR to the publisher's
//     encoder). Both need the up-track's RTCP to be read, which
//     source.readRTCP does.
//   - Subscribers: none. Every Pion interceptor that binds an RTCP writer
//     starts a ticker goroutine per peer connection (generator, receiver and
//     sender reports: three per viewer, waking up to 10 times a second, with
//     nothing to do on a viewer's connection or — for sender reports — doing
//     it wrongly: Pion stamps SRs from the time rewritten packets were sent,
//     so after a slot switch audio and video drift apart). The SFU does the
//     viewer side itself: NACKs are served from the up-track's one shared
//     media.Cache mapped back through the slot's Rewriter (Pion's responder
//     would keep 1024 packets per viewer slot: gigabytes for a big room),
//     sender reports are translated from the publisher's own (slot.report),
//     and PLI/FIR is coalesced per source by a media.KeyframeThrottle.
//     TestViewerCostsNoInterceptorGoroutines counts the difference.
//   - TWCC / congestion control (PROTOCOL.md §9): publishers get Pion's
//     TWCC feedback generator, for their encoders' own send-side
//     estimation. Subscribers negotiate transport-cc with no interceptor:
//     the viewer's writer stamps the transport-wide sequence numbers and
//     its estimator reads the feedback (bwe.go), so neither costs a
//     goroutine per viewer nor an allocation per packet.
//
// With tcp (ICE-TCP on, PROTOCOL.md §9) both also gather passive TCP
// candidates on that one listener, demultiplexed by ICE username fragment
// like the UDP port.
func newAPI(cfg Config, conn net.PacketConn, tcp net.Listener, log *slog.Logger) (pub *webrtc.API, sub *subscriberAPI, mux, tcpMux io.Closer, video webrtc.RTPCodecParameters, err error) {
	video, err = videoCodec(cfg.VideoCodec)
	if err != nil {
		return nil, nil, nil, nil, video, err
	}
	pubME, err := newMediaEngine(video, false)
	if err != nil {
		return nil, nil, nil, nil, video, err
	}
	if err := registerSimulcast(pubME); err != nil {
		return nil, nil, nil, nil, video, err
	}
	subME, err := newMediaEngine(video, true)
	if err != nil {
		return nil, nil, nil, nil, video, err
	}

	pubIR := &interceptor.Registry{}
	gen, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return nil, nil, nil, nil, video, err
	}
	pubIR.Add(gen)
	rr, err := report.NewReceiverInterceptor()
	if err != nil {
		return nil, nil, nil, nil, video, err
	}
	pubIR.Add(rr)
	// Publishers get transport-wide feedback for their own send-side
	// estimation (PROTOCOL.md §9): Pion's TWCC feedback generator, one
	// ticker per publish connection.
	if err := webrtc.ConfigureTWCCSender(pubME, pubIR); err != nil {
		return nil, nil, nil, nil, video, err
	}
	// Subscribers negotiate transport-cc too, but the SFU stamps the
	// sequence numbers and reads the feedback itself (bwe.go).
	if err := registerTransportCC(subME); err != nil {
		return nil, nil, nil, nil, video, err
	}

	se := webrtc.SettingEngine{}
	se.LoggerFactory = slogFactory{log: log}
	m := webrtc.NewICEUDPMux(se.LoggerFactory.NewLogger("icemux"), conn)
	se.SetICEUDPMux(m)
	if tcp != nil {
		tm := webrtc.NewICETCPMux(se.LoggerFactory.NewLogger("icetcp"), tcp, tcpReadBuffer)
		se.SetICETCPMux(tm)
		tcpMux = tm
	}
	ips := append([]string(nil), cfg.IPs...)
	se.SetNetworkTypes(networkTypes(ips, tcp != nil))
	if len(ips) > 0 {
		// NAT 1:1 host mapping: every gathered address is replaced by the
		// configured ones, which works both for an address of this host and
		// for a public address in front of it. Loopback must then be named
		// explicitly to survive the rewrite.
		if cfg.IncludeLoopback && !contains(ips, "127.0.0.1") {
			ips = append(ips, "127.0.0.1")
		}
		se.SetNAT1To1IPs(ips, webrtc.ICECandidateTypeHost)
	}
	se.SetIncludeLoopbackCandidate(cfg.IncludeLoopback)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled) // candidates are plain addresses
	se.SetSRTPProtectionProfiles(
		dtls.SRTP_AEAD_AES_128_GCM, // the contract: AES-GCM first
		dtls.SRTP_AEAD_AES_256_GCM,
		dtls.SRTP_AES128_CM_HMAC_SHA1_80,
	)
	se.SetReceiveMTU(defaultReceiveMTU)
	// A publisher's retransmission arrives a round trip or more after the
	// packets that overtook it; Pion's default 64-packet SRTP replay window
	// refuses it as too old once ~64 packets went by (160 ms of 400 pkt/s
	// video), so the NACK was for nothing. libwebrtc uses 1024 for this
	// reason (it is what browsers apply to our retransmissions too).
	se.SetSRTPReplayProtectionWindow(srtpReplayWindow)
	se.SetICETimeouts(
		orDefault(cfg.ICEDisconnectedTimeout, defaultICEDisconnected),
		orDefault(cfg.ICEFailedTimeout, defaultICEFailed),
		orDefault(cfg.ICEKeepaliveInterval, defaultICEKeepalive),
	)

	pub = webrtc.NewAPI(webrtc.WithMediaEngine(pubME), webrtc.WithInterceptorRegistry(pubIR), webrtc.WithSettingEngine(se))
	sub = &subscriberAPI{me: subME, se: se, ir: &interceptor.Registry{}}
	return pub, sub, m, tcpMux, video, nil
}

// subscriberAPI makes each subscribe connection's webrtc.API: the shared
// media engine, no interceptors, and the shared settings but for the SRTCP
// session's buffers, which are the viewer's RTCP taps (feedback.go) so the
// connection's RTCP is read once, by Pion's session reader, with no
// goroutine per slot. An API per connection costs a copy of the settings
// (Pion keeps a pointer to them per connection anyway); the media engine
// is copied per connection by Pion whatever the API.
type subscriberAPI struct {
	me *webrtc.MediaEngine
	se webrtc.SettingEngine
	ir *interceptor.Registry
}

// forViewer is the API of v's connection.
func (a *subscriberAPI) forViewer(v *viewer) *webrtc.API {
	se := a.se
	viewerDTLS(&se) // join.go
	se.BufferFactory = func(kind packetio.BufferPacketType, ssrc uint32) io.ReadWriteCloser {
		if kind == packetio.RTCPBufferPacket {
			return newRTCPTap(v, ssrc)
		}
		// A viewer sends no media: this is Pion's default buffer for the
		// stray RTP stream it would make anyway.
		b := packetio.NewBuffer()
		b.SetLimitSize(strayRTPBuffer)
		return b
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(a.me), webrtc.WithInterceptorRegistry(a.ir), webrtc.WithSettingEngine(se))
}

// strayRTPBuffer caps the buffer of an RTP stream a viewer should not send
// (Pion's default is 1 MB; nobody reads it).
const strayRTPBuffer = 64 << 10

// tcpReadBuffer is the ICE-TCP mux's per-connection receive queue, in
// packets (a channel: each slot costs a few dozen bytes): room for a
// keyframe's burst the reader momentarily fell behind on.
const tcpReadBuffer = 512

// newMediaEngine registers Opus and the room's video codec. With rtx, video
// retransmissions may also be negotiated (RFC 4588, payload type video+1):
// subscribers that accept it get viewers' NACKs answered on a separate RTX
// SSRC, which no SRTP replay window can refuse as a late duplicate; the
// others get same-SSRC resends. Publish connections do not offer RTX, so
// publishers resend on their media SSRC, which Pion's NACK generator and
// the SFU's reader see as the late packet it is.
func newMediaEngine(video webrtc.RTPCodecParameters, rtx bool) (*webrtc.MediaEngine, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(opusCodec(), webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	if err := me.RegisterCodec(video, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, err
	}
	if rtx {
		r := webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: video.ClockRate,
				SDPFmtpLine: fmt.Sprintf("apt=%d", video.PayloadType)},
			PayloadType: video.PayloadType + 1,
		}
		if err := me.RegisterCodec(r, webrtc.RTPCodecTypeVideo); err != nil {
			return nil, err
		}
	}
	return me, nil
}

// registerTransportCC offers transport-wide congestion control feedback
// and its header extension for both kinds.
func registerTransportCC(me *webrtc.MediaEngine) error {
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		me.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}, k)
		if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, k); err != nil {
			return err
		}
	}
	return nil
}

// registerSimulcast lets publishers simulcast (PROTOCOL.md §9): Pion routes
// a layer's packets by the RID header extension (and a repair stream's by
// the repaired RID), the MID extension naming the m-line.
func registerSimulcast(me *webrtc.MediaEngine) error {
	for _, ext := range []struct {
		uri  string
		kind webrtc.RTPCodecType
	}{
		{sdp.SDESMidURI, webrtc.RTPCodecTypeAudio},
		{sdp.SDESMidURI, webrtc.RTPCodecTypeVideo},
		{sdp.SDESRTPStreamIDURI, webrtc.RTPCodecTypeVideo},
		{sdp.SDESRepairRTPStreamIDURI, webrtc.RTPCodecTypeVideo},
	} {
		if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: ext.uri}, ext.kind); err != nil {
			return err
		}
	}
	return nil
}

// networkTypes is the IP families to gather candidates on. With configured
// addresses (NAT 1:1) only their families can be advertised, over UDP
// and, with ICE-TCP on, TCP: a host whose
// every --rtc-ip is IPv4 has nothing to map its IPv6 addresses to, and Pion
// would gather them only to drop each with a warning, on every connection.
func networkTypes(ips []string, tcp bool) []webrtc.NetworkType {
	v4, v6 := len(ips) == 0, len(ips) == 0
	for _, s := range ips {
		if ip := net.ParseIP(s); ip != nil && ip.To4() != nil {
			v4 = true
		} else if ip != nil {
			v6 = true
		}
	}
	var out []webrtc.NetworkType
	if v4 {
		out = append(out, webrtc.NetworkTypeUDP4)
	}
	if v6 {
		out = append(out, webrtc.NetworkTypeUDP6)
	}
	if tcp && v4 { // ICE-TCP (PROTOCOL.md §9), on the same families
		out = append(out, webrtc.NetworkTypeTCP4)
	}
	if tcp && v6 {
		out = append(out, webrtc.NetworkTypeTCP6)
	}
	return out
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
