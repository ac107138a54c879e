package sfu

import (
	"time"

	"github.com/pion/rtcp"

	"github.com/seatsfu/seatsfu/media"
)

// reportEvery is how often a slot sends its viewer a sender report (RFC 3550
// suggests ~5 s for small sessions; browsers start lip sync on the first one,
// so once a second and at once after a switch).
const reportEvery = time.Second

// report sends the viewer a sender report for the slot when one is due and
// the current source's publisher has sent one: the slot's RTP timestamp for
// now is the publisher's capture clock moved by the slot's timestamp offset
// (media.TranslateSenderReport), so audio and video of one seat stay in sync
// whatever switches re-based them. Without a publisher SR there is nothing
// true to say, and nothing is sent. Called by the writer with sl.mu held,
// right after a packet went out (the offset is then the current mapping).
func (sl *slot) report(src *source, bt *boundTrack, now time.Time) {
	if !sl.reportAt.IsZero() && now.Sub(sl.reportAt) < reportEvery {
		return
	}
	rep := src.up.report.Load()
	if rep == nil || sl.viewer.peer == nil {
		return
	}
	_, tsOff, ok := sl.rw.TimestampOffset()
	if !ok {
		return
	}
	sl.reportAt = now
	ntp, ts := media.TranslateSenderReport(*rep, time.Duration(src.pub.skew.Load()), tsOff, src.codec.ClockRate(), now)
	_ = sl.viewer.peer.writeRTCP([]rtcp.Packet{&rtcp.SenderReport{
		SSRC: uint32(bt.ssrc), NTPTime: ntp, RTPTime: ts, PacketCount: sl.packets, OctetCount: sl.octets,
	}})
}
