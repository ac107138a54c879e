package sfu

import (
	"encoding/binary"
	"time"

	"github.com/seatsfu/seatsfu/media"
)

// retransmit answers one NACKed sequence number from the current source's
// shared cache, mapped back through the slot's rewriter: same SSRC, the
// sequence number the viewer asked for. Packets of an earlier source (before
// a switch) are not resent: the viewer restarted on a keyframe since.
func (sl *slot) retransmit(seq uint16) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	b := sl.binding.Load()
	bt := sl.track.bound.Load()
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
	buf := sl.viewer.scratch[:]
	n, ok := b.src.cache.Load().Get(srcSeq, buf)
	if !ok {
		b.src.nackUpstream(srcSeq) // the SFU never got it: ask the publisher
		return
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
		if sl.send(bt, payload) {
			sl.viewer.room.s.m.retransmitted.Inc()
		}
		return
	}
	// RTX (RFC 4588 §4): the original sequence number leads the payload,
	// on the RTX SSRC's own numbering. Not counted in the media SR.
	rtx := sl.viewer.rtxBuf[:2+len(payload)]
	binary.BigEndian.PutUint16(rtx, seq)
	copy(rtx[2:], payload)
	sl.hdr.SSRC, sl.hdr.SequenceNumber, sl.hdr.PayloadType = bt.rtxSSRC, sl.rtxSeq, bt.rtxPT
	sl.rtxSeq++
	if bt.twccID != 0 {
		sl.viewer.stamp(&sl.hdr, bt, len(rtx))
	}
	if n, err := bt.w.WriteRTP(&sl.hdr, rtx); err == nil && n > 0 {
		sl.viewer.room.s.m.retransmitted.Inc()
	}
}

// readRTCP serves a slot's RTCP from the viewer until the connection
// closes.
//
// Why one goroutine per slot (a viewer costs 2×slots+1: these, and its
// writer): Pion's SRTCP session hands each compound packet to the read
// stream of every SSRC it names, and a v4 peer connection has no single
// place to read all of its RTCP; a stream nobody reads fills its bounded
// buffer and then drops, so a slot without a reader would lose its viewer's
// NACKs and PLIs. One goroutine polling every sender with read deadlines
// would add up to a polling period to every NACK's service time. A parked
// reader costs a few KiB of stack and no CPU; with the interceptors gone
// from subscriber connections (engine.go) there is no other per-viewer
// goroutine of ours.
func (sl *slot) readRTCP() {
	buf := make([]byte, defaultReceiveMTU)
	var fb media.Feedback
	for {
		n, _, err := sl.sender.Read(buf)
		if err != nil {
			return
		}
		if fb.Parse(buf[:n]) != nil {
			continue
		}
		sl.onFeedback(&fb, time.Now())
	}
}

// onFeedback acts on one compound packet's worth of a viewer's feedback,
// already bounded by media.Feedback (a hostile viewer's thousand-pair NACK
// costs at most media.MaxFeedbackNacks queue attempts): PLI/FIR become a
// coalesced keyframe request to the current source, NACKs are queued for the
// writer (which owns the rewriter that maps them back), and receiver reports
// give the viewer's round trip for sizing the source's cache. Feedback about
// other SSRCs is ignored.
func (sl *slot) onFeedback(fb *media.Feedback, now time.Time) {
	bt := sl.track.bound.Load()
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
	for _, tc := range fb.TransportCC {
		// For the writer's estimator (bwe.go); a full queue drops it like
		// a lost feedback packet.
		sl.viewer.push(item{sl: sl, twcc: tc})
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
