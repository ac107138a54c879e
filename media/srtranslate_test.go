package media

import (
	"testing"
	"time"
)

func TestNTPToTimeRoundTrips(t *testing.T) {
	at := time.Date(2026, 11, 22, 7, 0, 0, 123456789, time.UTC)
	back := NTPToTime(NTPTime(at))
	if d := back.Sub(at); d < -time.Microsecond || d > time.Microsecond {
		t.Fatalf("round trip off by %v", d)
	}
	if !NTPToTime(0).Equal(time.Unix(0, 0)) {
		t.Fatalf("pre-epoch NTP = %v", NTPToTime(0))
	}
}

// Two tracks of one publisher whose slots were re-based by different offsets
// report timestamps that, taken back through their own offsets, name the
// same capture instant: lip sync survives a switch.
func TestTranslateSenderReportKeepsTracksInSync(t *testing.T) {
	pubNow := time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)
	skew := 250 * time.Millisecond // the publisher's clock runs ahead of ours
	ourNow := pubNow.Add(-skew)
	audio := SourceReport{NTP: NTPTime(pubNow), RTP: 48000 * 10}
	video := SourceReport{NTP: NTPTime(pubNow), RTP: 90000 * 3}
	later := ourNow.Add(1500 * time.Millisecond)

	const aOff, vOff = 7777, 123456789
	ntpA, tsA := TranslateSenderReport(audio, skew, aOff, 48000, later)
	ntpV, tsV := TranslateSenderReport(video, skew, vOff, 90000, later)
	if ntpA != NTPTime(later) || ntpV != NTPTime(later) {
		t.Fatalf("NTP fields %x %x, want our clock %x", ntpA, ntpV, NTPTime(later))
	}
	if got, want := tsA-aOff-audio.RTP, uint32(48000*3/2); got != want {
		t.Errorf("audio advanced %d ticks, want %d", got, want)
	}
	if got, want := tsV-vOff-video.RTP, uint32(90000*3/2); got != want {
		t.Errorf("video advanced %d ticks, want %d", got, want)
	}
	// A report from before the source's SR (our clock behind) goes back.
	_, early := TranslateSenderReport(video, skew, 0, 90000, ourNow.Add(-time.Second))
	if want := video.RTP - 90000; early != want {
		t.Errorf("earlier instant ts %d, want %d", early, want)
	}
}

func TestCacheNewest(t *testing.T) {
	c := NewCache(64)
	if _, ok := c.Newest(); ok {
		t.Fatal("empty cache has a newest packet")
	}
	c.Put(65534, []byte{1})
	c.Put(1, []byte{2}) // wrapped: newer
	c.Put(65530, []byte{3})
	if seq, ok := c.Newest(); !ok || seq != 1 {
		t.Fatalf("Newest = %d, %v; want 1, true", seq, ok)
	}
}

// FuzzTranslateSenderReport: any report, skew, offset and rate translate
// without panic; the NTP field is always our clock; and a slot's timestamp
// moves with the wall clock at the codec's rate.
func FuzzTranslateSenderReport(f *testing.F) {
	f.Add(uint64(0xe6a3b4c500000000), uint32(90000), int64(250e6), uint32(7777), uint32(90000), int64(1500e6))
	f.Add(uint64(0), uint32(0), int64(-1<<62), uint32(0), uint32(48000), int64(0))
	f.Fuzz(func(t *testing.T, ntp uint64, rtp uint32, skew int64, tsOff, rate uint32, step int64) {
		rate = rate%192000 + 1
		step = step % int64(time.Hour)
		if step < 0 {
			step = -step
		}
		now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
		src := SourceReport{NTP: ntp, RTP: rtp}
		n1, ts1 := TranslateSenderReport(src, time.Duration(skew), tsOff, rate, now)
		if n1 != NTPTime(now) {
			t.Fatalf("NTP %x, want our clock %x", n1, NTPTime(now))
		}
		later := now.Add(time.Duration(step))
		_, ts2 := TranslateSenderReport(src, time.Duration(skew), tsOff, rate, later)
		want := uint32(uint64(step) * uint64(rate) / uint64(time.Second))
		if d := ts2 - ts1 - want; d > 1 && -d > 1 { // rounding of two conversions
			t.Fatalf("timestamp advanced %d over %v at %d Hz, want %d", ts2-ts1, time.Duration(step), rate, want)
		}
	})
}
