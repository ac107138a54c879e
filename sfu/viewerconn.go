package sfu

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
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
// Both need the direct egress path (--egress-direct, the default): with it
// off, every viewer is on Pion.

// DefaultDemuxQueue is Config.DemuxQueue's default: datagrams for Pion
// (the publishers) the demux may queue — a few hundred milliseconds of a
// busy node's ingress while Pion's reader is off the CPU.
const DefaultDemuxQueue = rtcconn.DefaultPionQueue

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
	})
	if err != nil {
		return nil, nil, err
	}
	s.own = m
	s.m.mediaLimit.WithLabelValues("demux_queue").Set(float64(orDefaultInt(s.cfg.DemuxQueue, DefaultDemuxQueue)))
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

// ownConn is a Peer's own transport.
type ownConn struct {
	tr *rtcconn.Transport
	v  *viewer
	p  *Peer

	// ready is set once Subscribe has laid the viewer out (its slots,
	// their tracks). The transport's calls come from the demux's
	// goroutines, which learn of the viewer only through the network —
	// no happens-before edge with Subscribe's writes — so each call
	// checks ready first, and that atomic is the edge.
	ready atomic.Bool
	mu    sync.Mutex
	early func() // a Connected before ready (the viewer cannot connect before it has the answer; kept for safety)
}

// activate marks the viewer laid out; a Connected that came first runs now.
func (c *ownConn) activate() {
	c.mu.Lock()
	c.ready.Store(true)
	f := c.early
	c.early = nil
	c.mu.Unlock()
	if f != nil {
		f()
	}
}

func (c *ownConn) Connected(out *srtp.Context, _ srtp.ProtectionProfile, path rtcconn.Path) {
	f := func() {
		c.v.eg.ownConnected(out, udpOf(path))
		c.v.connected() // join.go: its writer starts the slots from the cache
	}
	c.mu.Lock()
	if !c.ready.Load() {
		c.early = f
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	f()
}

// Moved follows a new nomination: a UDP path takes the direct path, an
// ICE-TCP one the transport's framed writes (ownSender).
func (c *ownConn) Moved(path rtcconn.Path) {
	if c.ready.Load() {
		c.v.eg.moved(udpOf(path))
	}
}

// udpOf is the direct path's address for path, nil on ICE-TCP.
func udpOf(path rtcconn.Path) *net.UDPAddr {
	if path.TCP || !path.Valid() {
		return nil
	}
	return net.UDPAddrFromAddrPort(path.Addr)
}

// ownSender is an own-transport slot's writer when the viewer is not on
// the direct path: on ICE-TCP it seals each packet with the viewer's
// context and frames it on the viewer's connection; before the handshake
// it drops (the viewer is gated until then, as Pion drops writes before
// DTLS).
type ownSender struct {
	eg *viewerEgress
	tr *rtcconn.Transport
}

func (o ownSender) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	return o.eg.seal(h, payload, o.tr.Send)
}

func (o ownSender) Write([]byte) (int, error) { return 0, nil }

// RTCP hands one decrypted compound packet to the viewer once for every
// SSRC it names, as Pion's SRTCP session does with its per-SSRC buffers
// (feedback.go).
func (c *ownConn) RTCP(b []byte) {
	if !c.ready.Load() {
		return
	}
	var seen [16]uint32
	n := 0
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		return
	}
	for _, p := range pkts {
		for _, ssrc := range p.DestinationSSRC() {
			dup := false
			for _, s := range seen[:n] {
				dup = dup || s == ssrc
			}
			if dup || n == len(seen) {
				continue
			}
			seen[n] = ssrc
			n++
			c.v.onRTCP(ssrc, b)
		}
	}
}

func (c *ownConn) Closed(error) { c.p.closeAsync() }

// subscribeOwnPeer is Subscribe on the own transport. Called after the
// viewer was admitted.
func (r *Room) subscribeOwnPeer(v *viewer, userID, offer string, firstSeat int, opts []PeerOption) (*Peer, string, []Slot, error) {
	peer := &Peer{s: r.s, done: make(chan struct{}), viewer: v}
	v.peer = peer
	v.gate() // join.go: no media until the handshake gave the keys
	v.eg = r.s.egress.newViewer()
	v.hooks = hooksOf(opts)
	if v.hooks.onQuality != nil {
		v.quality = newCoalescer(peer, qualityEvery, v.reportQuality)
	}
	v.alloc = newCoalescer(peer, allocEvery, v.allocate)
	fail := func(err error) (*Peer, string, []Slot, error) {
		r.s.releaseSubscriber()
		_ = peer.Close()
		return nil, "", nil, err
	}
	answer, err := r.subscribeOwn(v, peer, offer, firstSeat)
	if err != nil {
		return fail(err)
	}
	slots := make([]Slot, len(v.slots))
	for i, sl := range v.slots {
		slots[i] = Slot{Mid: sl.mid, Kind: kindNames[sl.kind], SeatIndex: sl.seatIdx, CohostIndex: sl.cohost}
	}
	if err := r.attachViewer(v, peer); err != nil {
		return fail(err)
	}
	peer.own.activate()
	// No goroutine of ours, nor of Pion's, at rest: the writers serve its
	// queue, the demux its packets.
	return peer, answer, slots, nil
}

// subscribeOwn answers a subscribe offer on the own transport: the slots
// are laid out as Subscribe does for Pion, bound straight to the direct
// egress path.
func (r *Room) subscribeOwn(v *viewer, peer *Peer, offer string, firstSeat int) (string, error) {
	o, err := rtcconn.ParseOffer(offer)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	ufrag, pwd := randomToken(16), randomToken(32)
	oc := &ownConn{v: v, p: peer}
	if oc.tr, err = r.s.own.NewTransport(rtcconn.Params{
		LocalUfrag: ufrag, LocalPwd: pwd, RemoteUfrag: o.Ufrag, RemotePwd: o.Pwd,
		FingerprintAlgo: o.FingerprintAlgo, Fingerprint: o.Fingerprint,
	}, oc); err != nil {
		return "", err
	}
	peer.own = oc
	var count [2]int
	var senders []*rtcconn.Sender
	var slots []*slot
	for _, m := range o.Media {
		if m.Kind != "audio" && m.Kind != "video" {
			continue
		}
		kind := audioIdx
		if m.Kind == "video" {
			kind = videoIdx
		}
		idx := firstSeat + count[kind]
		count[kind]++
		co := r.cohostSlotOf(idx)
		if co < 0 {
			senders, slots = append(senders, nil), append(slots, nil) // inactive (§5, §10)
			continue
		}
		sl := &slot{viewer: v, kind: kind, seatIdx: idx, track: r.s.newSlotTrack(kind, idx), want: layerHigh, capLayer: layerHigh}
		if co > 0 {
			sl.seatIdx, sl.cohost, sl.track = -1, co, r.s.newCohostSlotTrack(kind, co)
		}
		sl.track.sock, sl.track.eg = r.s.egress, v.eg
		senders, slots = append(senders, &rtcconn.Sender{StreamID: sl.track.streamID, TrackID: sl.track.id}), append(slots, sl)
	}
	answer, lines, err := rtcconn.Answer(o, r.s.ownAnswerConfig(ufrag, pwd), senders)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	for i, sl := range slots {
		if sl == nil {
			continue
		}
		l := lines[i]
		sl.mid = l.Mid
		sl.track.bound.Store(&boundTrack{
			w:    &egressWriter{pion: ownSender{eg: v.eg, tr: oc.tr}, e: v.eg, sock: r.s.egress},
			ssrc: webrtc.SSRC(l.SSRC), pt: l.PT, rtxSSRC: l.RTXSSRC, rtxPT: l.RTXPT, twccID: l.TransportCCExt,
		})
		v.slots = append(v.slots, sl)
	}
	return answer, nil
}

// unconnected is an own-transport slot's writer before the handshake gave
// its keys: nothing can be sent yet (the viewer is gated until then; a
// stray write is dropped as Pion drops writes before DTLS).
type unconnected struct{}

func (unconnected) WriteRTP(*rtp.Header, []byte) (int, error) { return 0, nil }
func (unconnected) Write([]byte) (int, error)                 { return 0, nil }

// randomToken is an ICE ufrag or password (RFC 8445 §5.3: ice-chars, at
// least 4 and 22 characters of randomness).
func randomToken(n int) string {
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
	b := make([]byte, n)
	var r [8]byte
	for i := range b {
		if i%8 == 0 {
			_, _ = rand.Read(r[:])
		}
		b[i] = chars[int(binary.BigEndian.Uint64(r[:])>>(6*(i%8)))&63]
	}
	return string(b)
}

func orDefaultInt(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}
