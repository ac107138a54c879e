package sfu

import (
	"encoding/binary"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/seatsfu/seatsfu/media"
)

// Per-subscriber downlink estimation (PROTOCOL.md §9). When the viewer
// negotiated transport-cc, its writer stamps every packet it sends — media,
// replays, retransmissions — with the connection's transport-wide sequence
// number (a header extension built in scratch space: no allocation) and
// tells the estimator when it left. The viewer's transport-wide feedback
// arrives with the connection's RTCP (feedback.go), which queues it for
// the writer, the estimator's only user, so nothing here takes a lock. A
// changed estimate wakes the allocator (allocate.go); the allocator's wish
// for more wakes the prober (probe.go).

// transportCC is the writer's transport-wide state.
type transportCC struct {
	seq uint16
	ext [1]rtp.Extension
	buf [2]byte
	bwe *media.DownlinkEstimator
}

// stamp adds the transport-wide sequence number to h, about to be written
// with a payload of size bytes, and records it; bt negotiated transport-cc
// (the caller checks, keeping the common case free of a call). Called by
// the writer.
func (v *viewer) stamp(h *rtp.Header, bt *boundTrack, size int) {
	t := &v.tcc
	if t.bwe == nil {
		t.bwe = media.NewDownlinkEstimatorWith(v.room.s.cfg.Adapt.BWE)
	}
	binary.BigEndian.PutUint16(t.buf[:], t.seq)
	h.Extensions = t.ext[:0]
	if h.SetExtension(bt.twccID, t.buf[:]) != nil {
		return
	}
	t.bwe.Sent(t.seq, time.Now(), h.MarshalSize()+size)
	t.seq++
}

// onTransportFeedback applies one transport-wide feedback packet. Called
// by the writer.
func (v *viewer) onTransportFeedback(fb *rtcp.TransportLayerCC) {
	t := &v.tcc
	if t.bwe == nil {
		return // nothing was stamped: feedback about nothing of ours
	}
	t.bwe.Feedback(fb, time.Now())
	if r, ok := t.bwe.TakeProbeResult(); ok {
		v.onProbeResult(r) // probe.go
	}
	if est, ok := t.bwe.Estimate(); ok {
		v.estimate.Store(est)
		v.alloc.mark()
	}
}
