package media

import "time"

// NTPToTime converts a 64-bit NTP timestamp (as in a sender report) to a
// wall time. Times before the Unix epoch come out as the epoch.
func NTPToTime(ntp uint64) time.Time {
	secs := ntp >> 32
	if secs < ntpEpochOffset {
		return time.Unix(0, 0)
	}
	frac := ntp & 0xffffffff
	nanos := (frac * 1e9) >> 32
	return time.Unix(int64(secs-ntpEpochOffset), int64(nanos))
}

// SourceReport is the clock mapping a publisher's sender report gave for one
// up-track: its RTP timestamp RTP was the publisher's wall clock NTP.
type SourceReport struct {
	NTP uint64
	RTP uint32
}

// TranslateSenderReport builds the (NTP, RTP) pair of a viewer slot's sender
// report at now from the slot's current source.
//
// The RTP timestamp is the source's own mapping carried forward to now and
// moved onto the slot by tsOff (Rewriter.TimestampOffset), so it is the
// publisher's capture clock, not the time packets happened to be sent: the
// audio and video slots of one seat stay lined up across a switch (lip sync)
// even though each slot's timestamps were re-based independently. skew is the
// publisher's clock minus ours (one value per publisher, shared by its
// tracks); the NTP field is our own clock, so a viewer's LSR/DLSR measure the
// round trip to us.
func TranslateSenderReport(src SourceReport, skew time.Duration, tsOff, clockRate uint32, now time.Time) (ntp uint64, ts uint32) {
	elapsed := now.Add(skew).Sub(NTPToTime(src.NTP))
	neg := elapsed < 0
	if neg {
		elapsed = -elapsed
	}
	secs := uint64(elapsed / time.Second)
	rem := uint64(elapsed % time.Second)
	ticks := uint32(secs*uint64(clockRate) + rem*uint64(clockRate)/uint64(time.Second))
	ts = src.RTP + tsOff
	if neg {
		ts -= ticks
	} else {
		ts += ticks
	}
	return NTPTime(now), ts
}
