package media

import (
	"time"

	"github.com/pion/rtcp"
)

// ntpEpochOffset is the number of seconds from the NTP epoch (1900) to the
// Unix epoch (1970).
const ntpEpochOffset = 2208988800

// NTPTime converts a wall time to the 64-bit NTP format of RTCP sender
// reports: seconds since 1900 in the high word, the fraction in the low one.
func NTPTime(t time.Time) uint64 {
	nanos := uint64(t.UnixNano()) // valid until 2262
	secs := nanos/1e9 + ntpEpochOffset
	frac := (nanos % 1e9) << 32 / 1e9
	return secs<<32 | frac
}

// ntpMiddle is the middle 32 bits of an NTP time: the unit of LSR and of the
// round-trip arithmetic (1/65536 s).
func ntpMiddle(ntp uint64) uint32 { return uint32(ntp >> 16) }

// RTT is the round trip a reception report reveals about our sender reports
// (RFC 3550 §6.4.1: arrival − LSR − DLSR), received at now. ok is false when
// the report carries no LSR or the arithmetic is inconsistent.
func RTT(rr rtcp.ReceptionReport, now time.Time) (time.Duration, bool) {
	if rr.LastSenderReport == 0 {
		return 0, false
	}
	a := ntpMiddle(NTPTime(now))
	rtt := int32(a - rr.LastSenderReport - rr.Delay)
	if rtt < 0 {
		return 0, false
	}
	return time.Duration(rtt) * time.Second / 65536, true
}
