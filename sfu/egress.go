package sfu

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/ipv4"
)

// The direct egress path (issue 16). A viewer's RTP normally goes through
// Pion's per-write layers — SRTP session, mux, ICE conn, UDP mux — one
// sendto each. When the connection's selected candidate pair is a host
// UDP candidate on the SFU's own media socket (the common case: a viewer
// reaching the server's UDP port directly or through its own NAT or TURN
// relay), the writer serving the viewer (writers.go) instead encrypts each
// packet with an SRTP context keyed from the connection's DTLS handshake
// (egress_keys.go) into its own batch, and sends what it encrypted for all
// the viewers it served in one sendmmsg on that socket, each datagram to
// its pair's remote address; runs to one viewer go as one UDP GSO entry
// (egress_gso.go).
//
// Pion keeps ICE, DTLS, RTCP and every other transport: ICE-TCP, a relay
// candidate of the SFU's own, a connection whose keys could not be had, or
// --egress-direct off all write through Pion as before. Both paths sit
// behind the one seam every sender uses, the bound track's
// TrackLocalWriter (bt.w): egressWriter picks the path per packet.
//
// One caveat of two encryptors for one SSRC: each tracks the SSRC's
// rollover counter from the sequence numbers it sees. A switch between
// the paths (the selected pair moving to TCP and back) after more than
// 32 768 packets went the other way would desynchronise them; pair changes
// come from ICE restarts and network changes, far rarer than that.

// egressBatchSize is the most datagrams one sendmmsg carries.
const egressBatchSize = 64

// maxSRTPPacket fits a full-MTU RTP packet plus the SRTP auth tag.
const maxSRTPPacket = defaultReceiveMTU + 32

// egressSocket is the node's side of the direct path: the media socket.
type egressSocket struct {
	conn  *net.UDPConn
	port  int
	batch *ipv4.PacketConn // its sendmmsg (WriteBatch); takes IPv6 addresses too on Linux
	gso   atomic.Bool      // UDP GSO is on (egress_gso.go): until the kernel refuses it once
	out   *outbox          // control datagrams waiting for a batch (egress_outbox.go)
	m     egressMetrics
}

type egressMetrics struct {
	packets  [2]prometheus.Counter // by egressPion / egressDirect
	batches  prometheus.Counter
	messages prometheus.Counter // sendmmsg entries: a GSO entry carries several datagrams
	errors   prometheus.Counter
	direct   prometheus.Gauge
	gso      prometheus.Gauge
	control  [controlHows]prometheus.Counter // by how they left (egress_outbox.go)
}

const (
	egressPion   = 0
	egressDirect = 1
)

// newEgressSocket makes the direct path's socket, or only its metrics when
// on is false (every viewer then goes through Pion); gso lets it try UDP
// GSO.
func newEgressSocket(conn *net.UDPConn, on, gso bool, reg prometheus.Registerer) (*egressSocket, error) {
	const ns = "seatsfu"
	pk := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "egress_packets_total",
		Help: "RTP packets sent to viewers, by path: direct (the SFU's own SRTP and sendmmsg) or pion (Pion's stack: TCP, relay, no keys, or --egress-direct off)."},
		[]string{"path"})
	e := &egressSocket{conn: conn, m: egressMetrics{
		batches: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "egress_batches_total",
			Help: "sendmmsg calls of the direct egress path."}),
		messages: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "egress_messages_total",
			Help: "Messages the direct egress path's sendmmsg calls carried; egress_packets_total{path=\"direct\"} ÷ this is the datagrams per UDP GSO message."}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "egress_errors_total",
			Help: "Packets the direct egress path failed to encrypt or send (dropped, like network loss)."}),
		direct: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "egress_direct_viewers",
			Help: "Viewer connections whose media takes the direct egress path now."}),
		gso: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "egress_gso",
			Help: "1 while the direct egress path merges runs of datagrams to one viewer with UDP GSO; 0 when off or refused by the kernel."}),
	}}
	e.m.packets[egressPion] = pk.WithLabelValues("pion")
	e.m.packets[egressDirect] = pk.WithLabelValues("direct")
	ctl := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "egress_control_total",
		Help: "Viewers' control datagrams on the direct path (sender reports; STUN and DTLS of the own transport), by how they left: batched (with media in a sendmmsg), timer (alone, no batch came in time) or direct (at once: the outbox was full or the datagram too large)."},
		[]string{"how"})
	for i, how := range [controlHows]string{"batched", "timer", "direct"} {
		e.m.control[i] = ctl.WithLabelValues(how)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{pk, ctl, e.m.batches, e.m.messages, e.m.errors, e.m.direct, e.m.gso} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	if on {
		e.port = conn.LocalAddr().(*net.UDPAddr).Port
		e.batch = ipv4.NewPacketConn(conn)
		e.out = newOutbox(e)
		e.gso.Store(gso)
		if gso {
			e.m.gso.Set(1)
		}
	}
	return e, nil
}

// on says whether the direct path may be used at all.
func (e *egressSocket) on() bool { return e != nil && e.batch != nil }

// directAddr is where the direct path sends for pair, nil when the pair is
// not a host UDP candidate on the media socket (ICE-TCP, the SFU's relay).
func (e *egressSocket) directAddr(pair *webrtc.ICECandidatePair) *net.UDPAddr {
	if pair == nil || pair.Local == nil || pair.Remote == nil {
		return nil
	}
	l, r := pair.Local, pair.Remote
	if l.Protocol != webrtc.ICEProtocolUDP || l.Typ != webrtc.ICECandidateTypeHost || int(l.Port) != e.port ||
		r.Protocol != webrtc.ICEProtocolUDP {
		return nil
	}
	ip, err := netip.ParseAddr(r.Address)
	if err != nil { // an unresolved mDNS name, say: Pion knows where it is
		return nil
	}
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip.Unmap(), r.Port))
}

// viewerEgress is one viewer connection's direct path.
type viewerEgress struct {
	sock *egressSocket

	direct atomic.Bool // ctx and addr are set: the fast check per packet

	mu      sync.Mutex
	ctx     *srtp.Context // outbound SRTP, nil until the handshake's keys are had
	sealer  *rtpSealer    // the AEAD profiles' own sealing (egress_seal.go), nil otherwise
	addr    *net.UDPAddr  // the selected pair's remote, nil when not direct
	counted bool          // counted in egress_direct_viewers
	closed  bool

	turn egressTurn // the serving writer's turn (begin..end): its own, no lock
	hdr  rtp.Header // EncryptRTP's scratch, so it allocates nothing; the writer's
}

// egressTurn is a writer's turn on a viewer: the batch it lends (nil: no
// turn) and a snapshot of the keys and the address.
type egressTurn struct {
	out *egressBatch
	egressKeys
}

// egressKeys is what a packet is sealed with and sent to.
type egressKeys struct {
	ctx    *srtp.Context
	sealer *rtpSealer // preferred to ctx when set
	addr   *net.UDPAddr
}

// egressBatch is a writer's: the datagrams it encrypted for the viewers it
// served since it last sent, up to one sendmmsg's worth.
type egressBatch struct {
	n     int
	added uint64 // media datagrams ever added: tells a writer whether a turn added any
	// control counts the datagrams in it that are not media (egress_outbox.go),
	// controlHow says how they are counted when sent.
	control, controlHow int
	msgs                [egressBatchSize]ipv4.Message
	one                 [egressBatchSize][1][]byte
	bufs                [egressBatchSize][maxSRTPPacket]byte
	// The batch as sent with GSO (egress_gso.go): wire messages, their
	// iovecs and control messages, and the datagrams each carries.
	wire        [egressBatchSize]ipv4.Message
	iov         [egressBatchSize][]byte
	oob         [egressBatchSize][]byte
	start, span [egressBatchSize]int
}

func newEgressBatch() *egressBatch {
	b := new(egressBatch)
	for i := range b.msgs {
		b.msgs[i].Buffers = b.one[i][:]
		b.oob[i] = make([]byte, gsoCmsgLen)
	}
	return b
}

// singles are the batches of writes made outside a writer's turn (a
// viewer served by a goroutine of its own that just went direct): one
// datagram each, sent at once.
var singles = sync.Pool{New: func() any { return newEgressBatch() }}

func (e *egressSocket) newViewer() *viewerEgress {
	if !e.on() {
		return nil
	}
	return &viewerEgress{sock: e}
}

// isDirect says whether v's media takes the direct path now.
func (v *viewerEgress) isDirect() bool { return v != nil && v.direct.Load() }

// connected takes the connection's SRTP keys once its DTLS is up. Failing
// that, the viewer stays on Pion's path.
func (v *viewerEgress) connected(pc *webrtc.PeerConnection, dt *webrtc.DTLSTransport) error {
	if v == nil {
		return nil
	}
	v.mu.Lock()
	have := v.ctx != nil
	v.mu.Unlock()
	if have {
		return nil // reconnected after a disconnect: same handshake, same keys
	}
	client, err := dtlsClient(pc)
	if err != nil {
		return err
	}
	ctx, sealer, err := outboundSRTP(dt, client)
	if err != nil {
		return err
	}
	pair, _ := dt.ICETransport().GetSelectedCandidatePair()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.ctx, v.sealer = ctx, sealer
	if v.addr == nil {
		v.addr = v.sock.directAddr(pair)
	}
	v.updateLocked()
	return nil
}

// pairChanged follows the connection's selected candidate pair. Datagrams
// already batched keep the address they were encrypted for.
func (v *viewerEgress) pairChanged(pair *webrtc.ICECandidatePair) {
	if v == nil {
		return
	}
	addr := v.sock.directAddr(pair)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.addr = addr
	v.updateLocked()
}

func (v *viewerEgress) updateLocked() {
	on := v.ctx != nil && v.addr != nil && !v.closed
	v.direct.Store(on)
	if on != v.counted {
		v.counted = on
		if on {
			v.sock.m.direct.Inc()
		} else {
			v.sock.m.direct.Dec()
		}
	}
}

// close takes the viewer off the direct path for good.
func (v *viewerEgress) close() {
	if v == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.closed = true
	v.updateLocked()
}

// begin lends the viewer its writer's batch for the writer's turn on it
// (nil: no batch, each datagram is sent at once); end takes it back. The
// writer sends the batch when it is full or the writer runs out of work.
//
// begin also takes a snapshot of the keys and the address, so the turn's
// packets take no lock (issue 16: a lock a packet was a measurable share
// of forwarding). A pair change or close during a turn applies from the
// next turn on; datagrams of this one keep the address they were
// encrypted for, as batched ones always did.
func (v *viewerEgress) begin(b *egressBatch) {
	if v == nil || b == nil {
		return
	}
	v.mu.Lock()
	v.turn = egressTurn{out: b, egressKeys: egressKeys{ctx: v.ctx, sealer: v.sealer, addr: v.addr}}
	if v.closed {
		v.turn.addr = nil
	}
	v.mu.Unlock()
}

func (v *viewerEgress) end() {
	if v == nil {
		return
	}
	v.turn = egressTurn{}
}

// writeRTP encrypts one packet into the writer's batch (or sends it at
// once outside a writer's turn) when the viewer is on the direct path; ok
// false leaves it to Pion.
//
// Every writer of a viewer's tracks — forwarding, retransmission, replay,
// probe padding — runs on the writer serving the viewer (writers.go), so
// the batch it lends, the turn's snapshot and the SRTP context are never
// used by two goroutines at once.
func (v *viewerEgress) writeRTP(h *rtp.Header, payload []byte) (n int, ok bool, err error) {
	if v == nil || !v.direct.Load() {
		return 0, false, nil
	}
	if t := &v.turn; t.out != nil {
		if t.ctx == nil || t.addr == nil {
			return 0, false, nil
		}
		return v.seal(t.out, t.egressKeys, h, payload)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.addr == nil || v.ctx == nil || v.closed {
		return 0, false, nil
	}
	b := singles.Get().(*egressBatch)
	defer singles.Put(b)
	n, ok, err = v.seal(b, egressKeys{ctx: v.ctx, sealer: v.sealer, addr: v.addr}, h, payload)
	v.sock.send(b)
	return n, ok, err
}

// seal encrypts one packet into b for k.addr; a full batch is sent.
func (v *viewerEgress) seal(b *egressBatch, k egressKeys, h *rtp.Header, payload []byte) (n int, ok bool, err error) {
	hl := h.MarshalSize()
	size := hl + len(payload)
	pad := 0
	if h.Padding {
		pad = int(h.PaddingSize) // probe padding (probe.go): no payload, PaddingSize bytes
	}
	if size+pad > defaultReceiveMTU {
		return 0, false, nil // Pion's path refuses it the same way
	}
	// The header is laid out in the batch's buffer and the payload sealed
	// after it: by the sealer straight from the source packet, or, with
	// pion/srtp's Context, copied there and encrypted in place (pion/srtp
	// seals in place when dst and the plaintext share their start).
	buf := b.bufs[b.n][:]
	if _, err := h.MarshalTo(buf[:hl]); err != nil {
		return 0, true, err
	}
	plain := payload
	if pad > 0 {
		// RFC 3550 §5.1: the padding's last octet counts the padding.
		copy(buf[hl:], payload)
		clear(buf[size : size+pad-1])
		buf[size+pad-1] = byte(pad)
		size += pad
		plain = buf[hl:size]
	}
	var enc []byte
	if k.sealer != nil {
		enc, err = k.sealer.seal(buf, hl, h.SSRC, h.SequenceNumber, plain)
		if errors.Is(err, errSealerFull) {
			enc, err = nil, nil // an SSRC past the sealer's table: the Context's, always
		}
	}
	if enc == nil && err == nil {
		if pad == 0 {
			copy(buf[hl:], payload)
		}
		enc, err = k.ctx.EncryptRTP(buf[:0], buf[:size], &v.hdr)
	}
	if err != nil {
		v.sock.m.errors.Inc()
		return 0, true, err
	}
	b.added++
	if b.put(enc, k.addr) {
		v.sock.send(b)
	}
	return size, true, nil
}

// put appends one sealed datagram for to and says whether b is now full
// (the caller sends it then, and counts the datagram: b.added for media,
// b.control for the rest).
func (b *egressBatch) put(enc []byte, to *net.UDPAddr) (full bool) {
	b.one[b.n][0] = enc
	b.msgs[b.n].Addr = to
	b.n++
	return b.n == egressBatchSize
}

// send sends the batch in as few sendmmsg calls as the kernel takes it,
// runs to one viewer merged by GSO while the kernel takes that, and
// empties it. A failed send drops the rest, as a lossy network would:
// viewers' NACKs repair video.
func (e *egressSocket) send(b *egressBatch) {
	if e != nil && e.out != nil && e.out.queued.Load() > 0 && b.n < egressBatchSize {
		e.out.takeInto(b) // control datagrams waiting ride along
	}
	if b.n == 0 {
		return
	}
	wire, merged := b.msgs[:b.n], false
	if e.gso.Load() {
		wire, merged = b.coalesce()
	}
	sent, msgs, calls := 0, 0, 0 // datagrams, messages, sendmmsg calls: counted once a batch
	for i := 0; i < len(wire); {
		n, err := e.batch.WriteBatch(wire[i:], 0)
		calls++
		if err != nil && merged && gsoRefused(err) {
			// Resend the rest one datagram per entry, and never try again.
			e.gso.Store(false)
			e.m.gso.Set(0)
			wire, merged, i = b.msgs[b.start[i]:b.n], false, 0
			continue
		}
		if err != nil || n <= 0 {
			e.m.errors.Add(float64(b.n - sent))
			break
		}
		for k := i; k < i+n; k++ {
			if merged {
				sent += b.span[k]
			} else {
				sent++
			}
		}
		msgs += n
		i += n
	}
	e.m.batches.Add(float64(calls))
	e.m.messages.Add(float64(msgs))
	// Control datagrams are counted apart (exactly unless a send failed
	// part-way: then as if they had gone first).
	ctl := min(sent, b.control)
	e.m.packets[egressDirect].Add(float64(sent - ctl))
	if ctl > 0 {
		e.m.control[b.controlHow].Add(float64(ctl))
	}
	b.control = 0
	for i := range b.n {
		b.msgs[i].Addr, b.wire[i].Addr = nil, nil
		b.one[i][0], b.iov[i] = nil, nil
		b.wire[i].Buffers, b.wire[i].OOB = nil, nil
	}
	b.n = 0
}

// egressWriter is a bound slot's TrackLocalWriter: the direct path when the
// viewer is on it, Pion's otherwise. Forwarding, retransmissions and probe
// padding all write through it.
type egressWriter struct {
	pion webrtc.TrackLocalWriter
	e    *viewerEgress // nil with the direct path off
	sock *egressSocket // its metrics
	link *linkWatch    // the viewer's (viewer.link; nil: not tracked)
}

// slowLinkWrite is how long a write on Pion's path may take before the
// viewer's link, not the node, is taken to hold its writer: a write into
// a socket with room takes microseconds; an ICE-TCP write into a full one
// waits up to its deadline (--tcp-write-timeout, 200 ms by default).
const slowLinkWrite = 20 * time.Millisecond

// linkWatch says whether a viewer's own link holds its writer back, so
// that the drops its queue makes are not the node's (overload.go): its last
// write on Pion's path took over slowLinkWrite, or the write in progress
// has already. The second is the start of a stall: the first write into a
// full socket waits its whole deadline, the queue fills and drops
// meanwhile, and those drops, counted before that write returned, made a
// node with a budget "behind" (sfu/nettest's stalled TCP viewer).
type linkWatch struct {
	slow    atomic.Bool
	writing atomic.Int64 // since monoEpoch, when the write in progress began; 0: none
}

// monoEpoch is a monotonic origin for times kept in atomics.
var monoEpoch = time.Now()

func (l *linkWatch) slowNow() bool {
	if l.slow.Load() {
		return true
	}
	began := l.writing.Load()
	return began != 0 && time.Since(monoEpoch)-time.Duration(began) > slowLinkWrite
}

func (w *egressWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if n, ok, err := w.e.writeRTP(h, payload); ok {
		return n, err
	}
	w.sock.m.packets[egressPion].Inc()
	if w.link == nil {
		return w.pion.WriteRTP(h, payload)
	}
	began := time.Since(monoEpoch) // Pion's path only: the direct path never waits
	w.link.writing.Store(int64(began))
	n, err := w.pion.WriteRTP(h, payload)
	took := time.Since(monoEpoch) - began
	w.link.slow.Store(took > slowLinkWrite) // first: a drop between the two stores sees one or the other
	w.link.writing.Store(0)
	return n, err
}

// Write is a marshalled packet; only Pion's path takes those (nothing on
// the hot path writes them).
func (w *egressWriter) Write(b []byte) (int, error) { return w.pion.Write(b) }
