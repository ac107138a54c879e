package sfu

import (
	"encoding/binary"
	"io"
	"sync"
	"time"

	"github.com/seatsfu/seatsfu/media"
)

// rtxBufs are retransmit's buffers, shared by all viewers: a NACK is rare
// next to a viewer's life, and a buffer of its own cost every viewer
// 3 KiB of heap (issue 16). The write copies the packet out (SRTP seals
// it into the egress batch, or Pion marshals it), so a buffer goes back
// as soon as retransmit returns.
var rtxBufs = sync.Pool{New: func() any { return new([defaultReceiveMTU]byte) }}

// retransmit answers one NACKed sequence number from the current source's
// shared cache, mapped back through the slot's rewriter: same SSRC, the
// sequence number the viewer asked for. Packets of an earlier source (before
// a switch) are not resent: the viewer restarted on a keyframe since.
func (sl *slot) retransmit(seq uint16) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	b := sl.binding.Load()
	bt := sl.bound.Load()
	if b == nil || b != sl.cur || sl.rw == nil || bt == nil {
		return
	}
	_, srcSeq, ok := sl.rw.SourceSeq(seq)
	if !ok {
		return
	}
	_, tsOff, ok := sl.rw.TimestampOffset()
	if !ok {
		return
	}
	pooled := rtxBufs.Get().(*[defaultReceiveMTU]byte)
	defer rtxBufs.Put(pooled)
	buf := pooled[:]
	n, ok := b.src.cache.Load().Get(srcSeq, buf)
	if !ok {
		b.src.nackUpstream(srcSeq) // the SFU never got it: ask the publisher
		return
	}
	if !sl.viewer.room.s.allowRetransmit(sl.viewer) {
		return // over the viewer's or the node's budget (overload.go)
	}
	hlen, err := sl.hdr.Unmarshal(buf[:n])
	if err != nil {
		return
	}
	end := n
	if sl.hdr.Padding {
		if pad := int(buf[n-1]); pad > 0 && hlen+pad <= n {
			end -= pad
		}
	}
	sl.hdr.Extension, sl.hdr.Extensions = false, nil
	sl.hdr.Padding, sl.hdr.PaddingSize = false, 0
	sl.hdr.Timestamp += tsOff
	payload := buf[hlen:end]
	if bt.rtxSSRC == 0 {
		// Same SSRC, the sequence number asked for.
		sl.hdr.SSRC, sl.hdr.SequenceNumber, sl.hdr.PayloadType = uint32(bt.ssrc), seq, bt.pt
		if sl.send(bt, &sl.hdr, payload) {
			sl.viewer.room.s.m.retransmitted.Inc()
		}
		return
	}
	// RTX (RFC 4588 §4): the original sequence number leads the payload,
	// on the RTX SSRC's own numbering. Not counted in the media SR. It is
	// written in place over the cached header's last two bytes (a header
	// is at least 12), which sl.hdr no longer needs: its extensions, the
	// only part that pointed into buf, were dropped above.
	rtx := buf[hlen-2 : end]
	binary.BigEndian.PutUint16(rtx, seq)
	sl.hdr.SSRC, sl.hdr.SequenceNumber, sl.hdr.PayloadType = bt.rtxSSRC, sl.rtxSeq, bt.rtxPT
	sl.rtxSeq++
	if bt.twccID != 0 {
		sl.viewer.stamp(&sl.hdr, bt, len(rtx))
	}
	if n, err := bt.w.WriteRTP(&sl.hdr, rtx); err == nil && n > 0 {
		sl.viewer.room.s.m.retransmitted.Inc()
	}
}

// A viewer's RTCP is read once per connection, by Pion's own SRTCP
// session goroutine: the subscriber's API (engine.go) gives the session a
// BufferFactory, and the buffer it makes for each SSRC (rtcpTap) acts on
// what is written into it instead of holding it for a reader. Pion writes
// each decrypted RTCP packet into the buffer of every SSRC the packet
// names (an RR with 26 report blocks into 26 buffers), so each tap acts
// only on what concerns its own SSRC — except transport-wide feedback,
// which is about the whole connection and names one SSRC, whichever.
//
// Before (one reader goroutine per slot, 2×seats of them per viewer) a
// viewer cost 26 goroutines and as many 100 KB-capped packet buffers; a
// slot whose buffer nobody read would have lost its NACKs and PLIs. Now
// none: the writer is the viewer's only goroutine of ours.

// rtcpTap is the buffer Pion's SRTCP session writes one SSRC's decrypted
// RTCP into. Write acts on it at once; Read, which nobody calls (the
// subscriber connections run no interceptors and the SFU reads no sender),
// blocks until the stream closes, as a drained buffer would.
type rtcpTap struct {
	v      *viewer
	ssrc   uint32
	closed chan struct{}
	once   sync.Once
}

func newRTCPTap(v *viewer, ssrc uint32) *rtcpTap {
	return &rtcpTap{v: v, ssrc: ssrc, closed: make(chan struct{})}
}

func (t *rtcpTap) Write(b []byte) (int, error) {
	t.v.onRTCP(t.ssrc, b)
	return len(b), nil
}

func (t *rtcpTap) Read([]byte) (int, error) {
	<-t.closed
	return 0, io.EOF
}

func (t *rtcpTap) Close() error {
	t.once.Do(func() { close(t.closed) })
	return nil
}

// onRTCP acts on one RTCP packet of the viewer's, delivered for ssrc.
// Pion calls it from the connection's one SRTCP reader; the lock makes the
// shared parse state safe whatever goroutine that is.
func (v *viewer) onRTCP(ssrc uint32, buf []byte) {
	v.fbMu.Lock()
	defer v.fbMu.Unlock()
	fb := &v.fb
	if fb.Parse(buf) != nil {
		return
	}
	for _, tc := range fb.TransportCC {
		// For the writer's estimator (bwe.go); a full queue drops it like
		// a lost feedback packet.
		v.push(item{twcc: tc})
	}
	if sl := v.slotFor(ssrc); sl != nil {
		sl.onFeedback(fb, time.Now())
	}
}

// slotFor is the slot sending on ssrc, nil for any other SSRC (the RTX
// stream's, the viewer's own in its SDES, one not bound yet).
func (v *viewer) slotFor(ssrc uint32) *slot {
	for _, sl := range v.slots {
		if bt := sl.bound.Load(); bt != nil && uint32(bt.ssrc) == ssrc {
			return sl
		}
	}
	return nil
}

// onFeedback acts on one packet's worth of a viewer's feedback for the slot,
// already bounded by media.Feedback (a hostile viewer's thousand-pair NACK
// costs at most media.MaxFeedbackNacks queue attempts): PLI/FIR become a
// coalesced keyframe request to the current source, NACKs are queued for the
// writer (which owns the rewriter that maps them back), and receiver reports
// give the viewer's round trip for sizing the source's cache. Feedback about
// other SSRCs is ignored, and so is transport-wide feedback (onRTCP's).
func (sl *slot) onFeedback(fb *media.Feedback, now time.Time) {
	bt := sl.bound.Load()
	if bt == nil {
		return
	}
	ssrc := uint32(bt.ssrc)
	b := sl.binding.Load()
	for _, k := range fb.Keyframes {
		if k == ssrc && b != nil {
			b.src.requestKeyframe()
			break
		}
	}
	m := sl.viewer.room.s.m
	for _, n := range fb.Nacks {
		if n.MediaSSRC != ssrc {
			continue
		}
		m.nacksReceived.Inc()
		if !sl.viewer.push(item{sl: sl, nack: true, seq: n.Seq}) {
			break // the queue is full: the rest would be refused too
		}
	}
	for _, rr := range fb.Reports {
		if rr.SSRC != ssrc || b == nil {
			continue
		}
		if rtt, ok := media.RTT(rr, now); ok && rtt < 10*time.Second {
			b.src.noteRTT(rtt)
		}
	}
}
