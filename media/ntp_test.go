package media

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
)

func TestNTPTime(t *testing.T) {
	// 1970-01-01 00:00:00.5 UTC is 2208988800.5 s after the NTP epoch.
	got := NTPTime(time.Unix(0, 500_000_000))
	if got>>32 != ntpEpochOffset || got&0xffffffff != 1<<31 {
		t.Fatalf("NTPTime = %x", got)
	}
}

// A sender report round trip: our SR goes out, the peer answers after a
// delay, and RTT recovers the network time.
func TestRTTFromLSRAndDLSR(t *testing.T) {
	sendAt := t0.Add(133 * time.Millisecond)
	sr := NTPTime(sendAt)
	// The peer gets it after 40 ms, holds it 250 ms (DLSR, in 1/65536 s),
	// its RR takes 40 ms back.
	rr := rtcp.ReceptionReport{SSRC: 77, LastSenderReport: ntpMiddle(sr), Delay: 250 * 65536 / 1000}
	if rr.LastSenderReport != uint32(sr>>16) {
		t.Fatal("LSR is not the middle of the SR's NTP time")
	}
	rtt, ok := RTT(rr, sendAt.Add(330*time.Millisecond))
	if !ok || rtt < 79*time.Millisecond || rtt > 81*time.Millisecond {
		t.Fatalf("RTT %v %v, want 80ms", rtt, ok)
	}
	if _, ok := RTT(rtcp.ReceptionReport{}, sendAt); ok {
		t.Fatal("RTT without LSR")
	}
	// A DLSR longer than the elapsed time is inconsistent.
	rr.Delay = 1 << 30
	if _, ok := RTT(rr, sendAt.Add(330*time.Millisecond)); ok {
		t.Fatal("negative RTT accepted")
	}
}
