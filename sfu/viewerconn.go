package sfu

import (
	"fmt"
	"net"
	"strings"

	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/sfu/rtcconn"
)

// The viewer's own transport (issue 16; sfu/rtcconn). A viewer served by
// it has no Pion PeerConnection: the node's demux answers its ICE checks,
// one DTLS handshake gives its SRTP keys to the direct egress path
// (egress.go), its SRTCP is decrypted on the demux's read loop and handed
// to viewer.onRTCP, as Pion's SRTCP session hands it today. At rest it
// costs no goroutine: the writers serve its queue, the demux's two loops
// serve every viewer of the node.
//
// Policy (Config.ViewerTransport):
//   - "pion": every viewer on a Pion PeerConnection.
//   - "own": every viewer on the own transport. It carries host UDP on the
//     media port and ICE-TCP on the shared TCP listener (rtcconn/tcp.go,
//     RFC 4571), but no relay candidates of the SFU's own TURN server
//     (PROTOCOL.md §9): with TURN on, a viewer that can reach neither the
//     UDP nor the TCP port cannot connect. The operator's choice.
//   - "auto" (the default): the own transport unless the node runs TURN,
//     Pion otherwise — so a viewer behind a network that blocks UDP still
//     works in the default configuration (ICE-TCP on, TURN off), and one
//     that needs the relay still gets it when TURN is on.
//
// The own transport needs the direct egress path (--egress-direct, the
// default): with it off, every viewer is on Pion.

// DefaultDemuxQueue is Config.DemuxQueue's default: datagrams for Pion
// (the publishers) the demux may queue — a few hundred milliseconds of a
// busy node's ingress while Pion's reader is off the CPU.
const DefaultDemuxQueue = rtcconn.DefaultPionQueue

// DefaultTCPUnsent and DefaultTCPWriteTimeout are Config.TCPUnsent's and
// Config.TCPWriteTimeout's defaults (rtcconn/tcp.go says why).
const (
	DefaultTCPUnsent       = rtcconn.DefaultTCPUnsent
	DefaultTCPWriteTimeout = rtcconn.DefaultTCPWriteTimeout
)

// Viewer transports.
const (
	ViewerTransportAuto = "auto"
	ViewerTransportOwn  = "own"
	ViewerTransportPion = "pion"
)

func validViewerTransport(s string) error {
	switch s {
	case "", ViewerTransportAuto, ViewerTransportOwn, ViewerTransportPion:
		return nil
	}
	return fmt.Errorf("sfu: viewer transport %q (want auto, own or pion)", s)
}

// ownTransport says whether this node's viewers use the own transport.
func ownTransport(cfg Config) bool {
	if cfg.PionEgress {
		return false
	}
	switch cfg.ViewerTransport {
	case ViewerTransportOwn:
		return true
	case ViewerTransportPion:
		return false
	}
	return !cfg.TURN
}

// openOwnTransport starts the demux on the media socket (and the split of
// the ICE-TCP listener tcp, when on) when the node's viewers use it; Pion
// then reads what the demux passes on.
func (s *SFU) openOwnTransport(tcp net.Listener) (net.PacketConn, net.Listener, error) {
	if !ownTransport(s.cfg) {
		return s.conn, tcp, nil
	}
	met := rtcconn.NewMetrics()
	if s.cfg.Registerer != nil {
		for _, c := range met.Collectors() {
			if err := s.cfg.Registerer.Register(c); err != nil {
				return nil, nil, fmt.Errorf("sfu: metrics: %w", err)
			}
		}
	}
	m, err := rtcconn.NewMux(s.conn, rtcconn.Config{
		PionQueue:       s.cfg.DemuxQueue,
		ConsentInterval: orDefault(s.cfg.ICEKeepaliveInterval, defaultICEKeepalive),
		ConsentTimeout:  orDefault(s.cfg.ICEFailedTimeout, defaultICEFailed),
		Metrics:         met,
		Handshakes:      s.cfg.Overload.Handshakes,
		HandshakeQueue:  s.cfg.Overload.HandshakeQueue,
		TCPUnsent:       s.cfg.TCPUnsent,
		TCPWriteTimeout: s.cfg.TCPWriteTimeout,
		Outbox:          s.egress.outbox(),
	})
	if err != nil {
		return nil, nil, err
	}
	s.own = m
	s.m.mediaLimit.WithLabelValues("demux_queue").Set(float64(orDefaultInt(s.cfg.DemuxQueue, DefaultDemuxQueue)))
	s.m.mediaLimit.WithLabelValues("tcp_unsent_bytes").Set(float64(orDefaultInt(s.cfg.TCPUnsent, DefaultTCPUnsent)))
	if tcp != nil {
		tcp = m.ServeTCP(tcp)
	}
	return m.PionConn(), tcp, nil
}

// ownCandidates are the answer's host candidates on the media port: the
// addresses the Pion path would advertise (the configured ones, else the
// listen address, else every interface's).
func (s *SFU) ownCandidates() []string {
	port := s.Addr().Port
	var ips []net.IP
	switch {
	case len(s.cfg.IPs) > 0:
		for _, ip := range s.cfg.IPs {
			ips = append(ips, net.ParseIP(ip))
		}
		if s.cfg.IncludeLoopback && !contains(s.cfg.IPs, "127.0.0.1") {
			ips = append(ips, net.IPv4(127, 0, 0, 1))
		}
	case net.ParseIP(s.cfg.ListenIP) != nil && !net.ParseIP(s.cfg.ListenIP).IsUnspecified():
		ips = append(ips, net.ParseIP(s.cfg.ListenIP))
	default:
		addrs, _ := net.InterfaceAddrs()
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok || n.IP.IsLinkLocalUnicast() || (n.IP.IsLoopback() && !s.cfg.IncludeLoopback) {
				continue
			}
			ips = append(ips, n.IP)
		}
	}
	out := make([]string, 0, 2*len(ips))
	for i, ip := range ips {
		// RFC 8445 §5.1.2.1: host type preference 126, local preference
		// falling with the list's order, component 1.
		prio := uint32(126)<<24 | uint32(65535-i)<<8 | 255
		out = append(out, fmt.Sprintf("%d 1 udp %d %s %d typ host", 1000+i, prio, ip, port))
	}
	if a, ok := s.tcpAddr.(*net.TCPAddr); ok {
		// ICE-TCP passive candidates (RFC 6544), below every UDP one.
		for i, ip := range ips {
			prio := uint32(126)<<24 | uint32(8191-i)<<8 | 255
			out = append(out, fmt.Sprintf("%d 1 tcp %d %s %d typ host tcptype passive", 2000+i, prio, ip, a.Port))
		}
	}
	return out
}

// ownAnswerConfig is the node's side of every own-transport answer: the
// codecs the subscribers' media engine has (engine.go), as Pion answers
// them.
func (s *SFU) ownAnswerConfig(ufrag, pwd string) rtcconn.AnswerConfig {
	conv := func(c webrtc.RTPCodecParameters, twcc bool) rtcconn.Codec {
		out := rtcconn.Codec{Name: strings.SplitN(c.MimeType, "/", 2)[1], ClockRate: c.ClockRate, Channels: c.Channels, Fmtp: c.SDPFmtpLine}
		for _, fb := range c.RTCPFeedback {
			out.Feedback = append(out.Feedback, strings.TrimSpace(fb.Type+" "+fb.Parameter))
		}
		if twcc {
			out.Feedback = append(out.Feedback, webrtc.TypeRTCPFBTransportCC)
		}
		return out
	}
	return rtcconn.AnswerConfig{
		Audio: conv(opusCodec(), true), Video: conv(s.videoParams, true), RTX: true,
		Fingerprint: s.own.Fingerprint(), Ufrag: ufrag, Pwd: pwd, Candidates: s.ownCandidates(),
	}
}

func orDefaultInt(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}
