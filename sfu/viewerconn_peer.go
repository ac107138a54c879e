package sfu

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/sfu/rtcconn"
)

// A subscriber on the own transport (viewerconn.go): its Peer, what the
// transport tells it, its slots' writers, and the Subscribe that lays it
// out.

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

// sealer is the direct path's own AEAD sealing for the handshake's keys
// (egress_seal.go); nil, and pion/srtp's Context seals, for another
// profile or when the keys cannot be had.
func (c *ownConn) sealer(profile srtp.ProtectionProfile) *rtpSealer {
	key, salt, err := c.tr.LocalSRTPKeys()
	if err != nil {
		return nil
	}
	s, err := newRTPSealer(profile, key, salt)
	if err != nil {
		return nil
	}
	return s
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

func (c *ownConn) Connected(out *srtp.Context, profile srtp.ProtectionProfile, path rtcconn.Path) {
	f := func() {
		// Only once ready: c.tr is Subscribe's write, and ready (or, for
		// an early Connected, activate on Subscribe's goroutine) is what
		// orders it before this read (the race detector caught a read
		// here before the check). Run at once, this is still the
		// handshake's call, with the DTLS connection up to give the keys.
		sealer := c.sealer(profile)
		c.v.eg.ownConnected(out, sealer, udpOf(path))
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
	return o.eg.sealFramed(h, payload, o.tr.Send)
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
		track := r.s.newSlotTrack(kind, idx)
		if co > 0 {
			idx, track = -1, r.s.newCohostSlotTrack(kind, co)
		}
		sl := newSlot(v, kind, idx, track)
		sl.cohost = co
		sl.track.sock, sl.track.eg, sl.track.link = r.s.egress, v.eg, &v.link
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
		sl.bound.Store(&boundTrack{
			w:    &egressWriter{pion: ownSender{eg: v.eg, tr: oc.tr}, e: v.eg, sock: r.s.egress, link: &v.link},
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
