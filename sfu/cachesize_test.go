package sfu

import (
	"testing"
	"time"

	"github.com/pion/rtcp"

	"github.com/seatsfu/seatsfu/media"
)

// An up-track's cache follows its rate and the farthest viewer's round trip
// (media.CacheSizeFor), keeps the recent packets across a resize, and does
// not flap: it grows at once, shrinks only to a quarter or less.
func TestCacheIsSizedFromRateAndViewerRTT(t *testing.T) {
	f := newFanout(t, 0, 0, 8, 0)
	src := f.src
	pkt := make([]byte, 100)
	for seq := uint16(1); seq <= 100; seq++ {
		pkt[0] = byte(seq)
		src.cache.Load().Put(seq, pkt)
	}
	start := src.cache.Load().Size()

	// One second of 448 packets/s, a viewer 300 ms away.
	tick := func(packets int, rtt time.Duration) {
		src.up.resizeAt = time.Now().Add(-time.Second)
		src.up.packets = packets - 1
		if rtt > 0 {
			src.noteRTT(rtt)
			src.noteRTT(rtt / 2) // the largest wins
		}
		src.resizeCache(1000)
	}
	tick(448, 300*time.Millisecond)
	want := media.CacheSizeFor(448, 300*time.Millisecond)
	if got := src.cache.Load().Size(); got != want || got <= start {
		t.Fatalf("cache of %d packets for 448 pkt/s at 300 ms RTT, want %d (grown from %d)", got, want, start)
	}
	buf := make([]byte, media.MaxPacketSize)
	if n, ok := src.cache.Load().Get(100, buf); !ok || n != 100 || buf[0] != 100 {
		t.Fatal("the newest packet was not carried over the resize")
	}

	// The viewer left and the rate dropped: the next second keeps the last
	// RTT known, a slightly smaller need keeps the size.
	tick(384, 0)
	if got := src.cache.Load().Size(); got != want {
		t.Fatalf("cache resized to %d for a need of %d", got, media.CacheSizeFor(384, 300*time.Millisecond))
	}
	// A viewer close by and a trickle: a quarter or less, so it shrinks.
	src.up.lastRTT = 0
	tick(64, time.Microsecond)
	if got := src.cache.Load().Size(); got != media.MinCacheSize {
		t.Fatalf("cache of %d packets for 64 pkt/s nearby, want %d", got, media.MinCacheSize)
	}
	if _, ok := src.cache.Load().Get(100, buf); !ok {
		t.Fatal("the newest packet was not carried over the shrink")
	}
}

// A viewer's receiver report about its slot gives the round trip (RFC 3550
// arrival − LSR − DLSR) that sizes the slot's source's cache; a report
// about another SSRC is ignored.
func TestViewerReceiverReportFeedsTheSourceRTT(t *testing.T) {
	g := newRig(newRigRoom(t))
	defer g.close()
	now := time.Now()
	lsr := uint32(media.NTPTime(now.Add(-50*time.Millisecond)) >> 16)
	fb := media.Feedback{Reports: []rtcp.ReceptionReport{
		{SSRC: 999, LastSenderReport: lsr, Delay: 0},                                                    // not this slot
		{SSRC: 1000, LastSenderReport: lsr, Delay: uint32(10 * time.Millisecond * 65536 / time.Second)}, // 50 − 10 ms
	}}
	g.sl.onFeedback(&fb, now)
	rtt := time.Duration(g.src.up.rtt.Load())
	if rtt < 39*time.Millisecond || rtt > 41*time.Millisecond {
		t.Fatalf("RTT noted %v, want 40 ms", rtt)
	}
}
