package sfu

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"

	"github.com/seatsfu/seatsfu/sfu/rtcconn"
)

// The control datagrams' ride on the media batches (issue 16). A viewer
// on the own transport costs, besides its media, a STUN answer and a
// consent check of ours every couple of seconds and a compound sender
// report every second. Each went out with a sendto of its own, mostly at a
// moment no media was being sent: a system call, and on this bench's
// loopback the wake-up of the reader of the viewer's socket, charged to
// the node. At 100 viewers the STUN traffic alone was about 5 % of the
// node's samples (bench/README.md, session 11). Now:
//
//   - a sender report due at the end of a writer's turn is sealed into
//     that writer's batch (viewerEgress.writeRTCP), beside the media;
//   - a connected viewer's STUN and late DTLS datagrams wait in the
//     socket's outbox (rtcconn.Outbox) and leave in the next sendmmsg any
//     writer makes, or after outboxWait when none comes.
//
// The outbox never drops: when full, or for a datagram too large for it,
// Post says no and the transport sends at once as before.

const (
	outboxSize = 64                   // datagrams waiting at most
	maxControl = 640                  // the largest datagram the outbox takes
	outboxWait = 5 * time.Millisecond // the longest one waits for a batch
)

// How a control datagram left (egress_control_total's label).
const (
	controlBatched = iota // in a batch of media
	controlTimer          // alone, the outbox's timer having found no batch in time
	controlDirect         // at once by its sender: the outbox was full or it too large
	controlHows
)

// outbox is the socket's waiting control datagrams. Its lock is a leaf,
// taken after a viewer's egress lock when there is one (a write outside a
// writer's turn sends a batch holding it): by writers sending a batch, by
// the transport's read and timer loops posting, and by its timer.
type outbox struct {
	sock   *egressSocket
	queued atomic.Int32 // len(q), for a lock-free look on every batch

	mu     sync.Mutex
	q      []controlDatagram // oldest first; cap outboxSize
	timer  *time.Timer
	wait   time.Duration // outboxWait; tests set their own
	armed  bool          // the timer will fire for what q holds
	closed bool
}

type controlDatagram struct {
	to  *net.UDPAddr
	n   int
	buf [maxControl]byte
}

func newOutbox(sock *egressSocket) *outbox {
	o := &outbox{sock: sock, q: make([]controlDatagram, 0, outboxSize), wait: outboxWait}
	o.timer = time.AfterFunc(time.Hour, o.late)
	o.timer.Stop()
	return o
}

// Post implements rtcconn.Outbox.
func (o *outbox) Post(b []byte, to netip.AddrPort) bool {
	if len(b) > maxControl {
		o.sock.m.control[controlDirect].Inc()
		return false
	}
	o.mu.Lock()
	if o.closed || len(o.q) == cap(o.q) {
		o.mu.Unlock()
		o.sock.m.control[controlDirect].Inc()
		return false
	}
	o.q = o.q[:len(o.q)+1]
	d := &o.q[len(o.q)-1]
	d.to = net.UDPAddrFromAddrPort(netip.AddrPortFrom(to.Addr().Unmap(), to.Port()))
	d.n = copy(d.buf[:], b)
	o.queued.Store(int32(len(o.q)))
	if !o.armed {
		o.armed = true
		o.timer.Reset(o.wait)
	}
	o.mu.Unlock()
	return true
}

// takeInto moves as many waiting datagrams as b has room for into it.
func (o *outbox) takeInto(b *egressBatch) {
	o.mu.Lock()
	defer o.mu.Unlock()
	k := min(len(o.q), egressBatchSize-b.n)
	for i := range k {
		d := &o.q[i]
		b.put(b.bufs[b.n][:copy(b.bufs[b.n][:], d.buf[:d.n])], d.to) // room for k: the caller sends
		b.control++
	}
	n := copy(o.q, o.q[k:])
	clear(o.q[n:])
	o.q = o.q[:n]
	o.queued.Store(int32(len(o.q)))
	if len(o.q) == 0 && o.armed {
		o.armed = false
		o.timer.Stop() // a firing already under way finds nothing
	}
}

// late sends what no batch took within outboxWait, on the timer's
// goroutine (two at once share the queue under its lock).
func (o *outbox) late() {
	o.mu.Lock()
	o.armed = false
	o.mu.Unlock()
	b := singles.Get().(*egressBatch)
	defer singles.Put(b)
	b.controlHow = controlTimer
	for o.queued.Load() > 0 {
		o.sock.send(b) // takes what waits first
	}
	b.controlHow = controlBatched
}

// close stops the outbox; what waits is dropped with the node.
func (o *outbox) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	o.timer.Stop()
	clear(o.q)
	o.q = o.q[:0]
	o.queued.Store(0)
}

// outbox is the socket's outbox for the own transport; nil (no outbox:
// send at once) with the direct path off, when no batches are sent.
func (e *egressSocket) outbox() rtcconn.Outbox {
	if e == nil || e.out == nil {
		return nil
	}
	return e.out
}

// closeOutbox stops the outbox, if there is one.
func (e *egressSocket) closeOutbox() {
	if e != nil && e.out != nil {
		e.out.close()
	}
}

// srtcpOverhead is what SRTCP adds to a compound packet: the E flag and
// index, and the longest authentication tag of the profiles offered.
const srtcpOverhead = 4 + 16

// writeRTCP encrypts pkts with the viewer's outbound context (the one its
// media is sealed with) and sends them on its nominated path: into the
// serving writer's batch during its turn (sender reports, report.go),
// through the transport's framed writes (other) on ICE-TCP, at once
// otherwise.
func (v *viewerEgress) writeRTCP(pkts []rtcp.Packet, other func([]byte)) error {
	if v == nil {
		return nil
	}
	b, err := rtcp.Marshal(pkts)
	if err != nil {
		return err
	}
	if t := &v.turn; t.out != nil && t.ctx != nil && t.addr != nil && len(b)+srtcpOverhead <= maxSRTPPacket {
		out := t.out
		enc, err := t.ctx.EncryptRTCP(out.bufs[out.n][:0], b, nil)
		if err != nil {
			return err
		}
		out.control++
		if out.put(enc, t.addr) {
			v.sock.send(out)
		}
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.ctx == nil || v.closed {
		return nil
	}
	enc, err := v.ctx.EncryptRTCP(nil, b, nil)
	if err != nil {
		return err
	}
	if v.addr == nil { // ICE-TCP: the transport's framed writes
		other(enc)
		return nil
	}
	v.sock.m.control[controlDirect].Inc()
	_, err = v.sock.conn.WriteToUDP(enc, v.addr)
	return err
}
