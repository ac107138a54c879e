package nettest

import (
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/media/impair"
)

// The unrecovered-loss budget at the viewer: 0.1 % of the video packets.
const maxUnrecovered = 0.001

// run is one publisher and one viewer on the given legs, in their own room.
type run struct {
	pub                 *publisher
	v                   *viewer
	pubRelay, viewRelay *impair.Relay
}

func startRun(t *testing.T, pubLeg, viewLeg leg, keyEvery uint32) run {
	t.Helper()
	_, r, _ := server(t)
	var x run
	x.pub, x.pubRelay = startPublisher(t, r, pubLeg, 4, keyEvery)
	x.v, x.viewRelay = startViewer(t, r, "viewer", viewLeg, nil)
	eventually(t, 15*time.Second, "video at the viewer", func() bool { return x.v.count() > 0 })
	return x
}

// stream lets the publisher send frames more frames (4 video packets each,
// 400 packets/s), stops it and waits for the viewer's stream to drain, so
// late retransmissions are counted.
func (x run) stream(t *testing.T, frames uint32) loss {
	t.Helper()
	start := x.pub.frames.Load()
	eventually(t, 20*time.Second, "the frames to be sent", func() bool { return x.pub.frames.Load()-start >= frames })
	x.pub.halt()
	settle(t, x.v, 700*time.Millisecond, 10*time.Second)
	l := countLoss(x.v.packets())
	if l.span < int(frames)*4*9/10 {
		t.Fatalf("only %d video packets spanned for %d frames: the run did not happen", l.span, frames)
	}
	return l
}

func checkLoss(t *testing.T, l loss, relay *impair.Relay) {
	t.Helper()
	up, down := relay.Counters(impair.ClientToTarget), relay.Counters(impair.TargetToClient)
	t.Logf("relay up %+v down %+v; viewer: %d of %d video packets missing (%.3f %%), %d duplicates",
		up, down, l.missing, l.span, 100*float64(l.missing)/float64(l.span), l.dups)
	if up.Dropped+down.Dropped < uint64(l.span)/50 {
		t.Fatalf("the relay dropped only %d packets: the impairment did not happen", up.Dropped+down.Dropped)
	}
	if float64(l.missing) > maxUnrecovered*float64(l.span) {
		t.Fatalf("%d of %d video packets unrecovered (first: %v), budget %.1f %%", l.missing, l.span, l.missed, 100*maxUnrecovered)
	}
}

// 5 % random loss both ways between the publisher and the SFU: the SFU's
// NACKs (Pion's generator on the publish connection) and the viewer's NACKs
// that miss the cache (asked upstream) bring the packets back.
func TestFivePercentLossOnThePublisherLeg(t *testing.T) {
	x := startRun(t, leg{up: &impair.Config{Seed: 11, Loss: 0.05}, down: &impair.Config{Seed: 12, Loss: 0.05}}, direct, 100)
	checkLoss(t, x.stream(t, 300), x.pubRelay)
}

// 5 % random loss both ways between the SFU and one viewer: its NACKs are
// served from the up-track's shared cache.
func TestFivePercentLossOnAViewerLeg(t *testing.T) {
	x := startRun(t, direct, leg{up: &impair.Config{Seed: 21, Loss: 0.05}, down: &impair.Config{Seed: 22, Loss: 0.05}}, 100)
	checkLoss(t, x.stream(t, 300), x.viewRelay)
}
