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

func TestReceiverStatsLossAndSeq(t *testing.T) {
	r := NewReceiverStats(1234, 90000)
	if _, ok := r.Report(t0); ok {
		t.Fatal("report before any packet")
	}
	// 65530 .. 65535, 0 .. 9 with 3 lost: 16 expected, 13 received.
	lost := map[uint16]bool{65533: true, 2: true, 3: true}
	at := t0
	for i := 0; i < 16; i++ {
		seq := uint16(65530 + i)
		at = at.Add(20 * time.Millisecond)
		if !lost[seq] {
			r.Push(seq, uint32(i)*1800, at)
		}
	}
	rr, ok := r.Report(at)
	if !ok || rr.SSRC != 1234 {
		t.Fatal("no report")
	}
	if rr.LastSequenceNumber != 1<<16|9 {
		t.Fatalf("ext highest %x", rr.LastSequenceNumber)
	}
	if rr.TotalLost != 3 {
		t.Fatalf("lost %d", rr.TotalLost)
	}
	if want := uint8(3 * 256 / 16); rr.FractionLost != want {
		t.Fatalf("fraction %d, want %d", rr.FractionLost, want)
	}
	// Perfectly paced packets: jitter stays 0.
	if rr.Jitter != 0 {
		t.Fatalf("jitter %d with perfect pacing", rr.Jitter)
	}
	// Next interval without loss: fraction 0, cumulative unchanged; a
	// duplicate and a late packet do not move the highest number.
	for seq := uint16(10); seq < 20; seq++ {
		at = at.Add(20 * time.Millisecond)
		r.Push(seq, uint32(seq+6)*1800, at)
	}
	r.Push(19, 0, at)
	rr, _ = r.Report(at)
	if rr.FractionLost != 0 || rr.LastSequenceNumber != 1<<16|19 {
		t.Fatalf("second interval %+v", rr)
	}
}

func TestReceiverStatsJitter(t *testing.T) {
	r := NewReceiverStats(1, 90000)
	at := t0
	// Packets every 20 ms of media time, arriving alternately 0 and 10 ms late:
	// |D| is 900 ticks each time, so the jitter converges towards 900.
	for i := 0; i < 400; i++ {
		late := time.Duration(i%2) * 10 * time.Millisecond
		r.Push(uint16(i), uint32(i)*1800, at.Add(time.Duration(i)*20*time.Millisecond+late))
	}
	rr, _ := r.Report(at)
	if rr.Jitter < 850 || rr.Jitter > 910 {
		t.Fatalf("jitter %d, want ~900", rr.Jitter)
	}
}

func TestReceiverStatsRestartOnJump(t *testing.T) {
	r := NewReceiverStats(1, 48000)
	r.Push(100, 0, t0)
	r.Push(101, 0, t0)
	r.Push(40000, 0, t0) // sender restarted
	r.Push(40001, 0, t0)
	rr, _ := r.Report(t0)
	if rr.TotalLost != 0 || rr.LastSequenceNumber != 40001 {
		t.Fatalf("after restart %+v", rr)
	}
}

// A sender report round trip: our SR goes out, the peer answers after a
// delay, and RTT recovers the network time.
func TestRTTFromLSRAndDLSR(t *testing.T) {
	s := NewSenderStats(77, 90000)
	if _, ok := s.Report(t0); ok {
		t.Fatal("sender report before any packet")
	}
	s.Sent(1000, 1200, t0)
	s.Sent(4000, 800, t0.Add(33*time.Millisecond))
	sendAt := t0.Add(133 * time.Millisecond)
	sr, ok := s.Report(sendAt)
	if !ok || sr.SSRC != 77 || sr.PacketCount != 2 || sr.OctetCount != 2000 {
		t.Fatalf("sender report %+v", sr)
	}
	if sr.RTPTime != 4000+9000 { // 100 ms at 90 kHz after the last packet
		t.Fatalf("RTP time %d", sr.RTPTime)
	}
	if sr.NTPTime != NTPTime(sendAt) {
		t.Fatal("NTP time is not the report's instant")
	}

	// The peer gets it after 40 ms, holds it 250 ms, its RR takes 40 ms back.
	peer := NewReceiverStats(77, 90000)
	peer.Push(1, 0, sendAt)
	peer.OnSenderReport(&sr, sendAt.Add(40*time.Millisecond))
	rr, _ := peer.Report(sendAt.Add(290 * time.Millisecond))
	if rr.LastSenderReport != uint32(sr.NTPTime>>16) {
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
