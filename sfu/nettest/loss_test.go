package nettest

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/internal/impair"
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
	return startRunRTX(t, pubLeg, viewLeg, keyEvery, false)
}

func startRunRTX(t *testing.T, pubLeg, viewLeg leg, keyEvery uint32, rtx bool) run {
	t.Helper()
	_, r, _ := server(t)
	var x run
	x.pub, x.pubRelay = startPublisher(t, r, pubLeg, 4, keyEvery)
	x.v, x.viewRelay = startViewerRTX(t, r, "viewer", viewLeg, nil, rtx)
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
// served from the up-track's shared cache, on the media SSRC (this viewer
// does not offer RTX).
func TestFivePercentLossOnAViewerLeg(t *testing.T) {
	x := startRun(t, direct, leg{up: &impair.Config{Seed: 21, Loss: 0.05}, down: &impair.Config{Seed: 22, Loss: 0.05}}, 100)
	checkLoss(t, x.stream(t, 300), x.viewRelay)
	if n := x.v.repaired.Load(); n != 0 {
		t.Fatalf("%d packets came as RTX to a viewer that did not negotiate it", n)
	}
}

// The same viewer leg with RTX negotiated: the retransmissions come on the
// RTX stream. (Pion's NACK generator, unlike a browser's, does not learn of
// packets repaired over RTX and NACKs them again until they leave its log:
// the duplicates logged here are that client's doing, not the SFU's.)
func TestFivePercentLossOnAViewerLegOverRTX(t *testing.T) {
	x := startRunRTX(t, direct, leg{up: &impair.Config{Seed: 23, Loss: 0.05}, down: &impair.Config{Seed: 24, Loss: 0.05}}, 100, true)
	x.stream(t, 300)
	// Pion's TrackRemote hands out a repaired packet only on a Read that
	// finds the RTX queue non-empty before blocking on the media stream,
	// so repairs of the last packets wait for media that never comes once
	// the publisher stopped. Count up to half a second before the end.
	ps := x.v.packets()
	last := ps[len(ps)-1].frame
	var kept []got
	for _, p := range ps {
		if p.frame+50 <= last {
			kept = append(kept, p)
		}
	}
	l := countLoss(kept)
	checkLoss(t, l, x.viewRelay)
	if n := x.v.repaired.Load(); n < int64(l.span)/50 {
		t.Fatalf("only %d packets repaired over RTX for ~5 %% loss of %d", n, l.span)
	}
	t.Logf("%d packets arrived over RTX", x.v.repaired.Load())
}

// decodeGap is the longest run of frames a decoder could not show: a frame
// is shown when all its parts arrived and it is a keyframe or follows a
// shown frame; one lost packet blanks everything up to the next complete
// keyframe.
func decodeGap(ps []got, parts int) (longest int, at uint32) {
	have := map[uint32]int{}
	key := map[uint32]bool{}
	var lo, hi uint32
	for i, p := range ps {
		have[p.frame]++
		if p.key {
			key[p.frame] = true
		}
		if i == 0 || p.frame < lo {
			lo = p.frame
		}
		hi = max(hi, p.frame)
	}
	shown, run := false, 0
	for f := lo; f <= hi; f++ {
		complete := have[f] >= parts
		shown = complete && (key[f] || shown)
		if shown {
			run = 0
			continue
		}
		if run++; run > longest {
			longest, at = run, f
		}
	}
	return longest, at
}

// 2 % loss in bursts (mean 8 packets in a row) on both legs: whatever NACK
// cannot bring back, the decoder never waits longer than one keyframe
// interval (1 s here) for a picture.
func TestBurstLossGapIsShorterThanAKeyframeInterval(t *testing.T) {
	const keyEvery = 100 // frames: 1 s
	burst := func(seed int64) *impair.Config {
		return &impair.Config{Seed: seed, Loss: 0.02, Burst: impair.Burst{MeanBurst: 8}}
	}
	x := startRun(t, leg{up: burst(31), down: burst(32)}, leg{up: burst(33), down: burst(34)}, keyEvery)
	l := x.stream(t, 300)
	gap, at := decodeGap(x.v.packets(), 4)
	dropped := x.pubRelay.Counters(impair.ClientToTarget).Dropped + x.viewRelay.Counters(impair.TargetToClient).Dropped
	ps := x.v.packets()
	t.Logf("relays dropped %d media packets in bursts; viewer: %d of %d unrecovered; longest undecodable run %d frames (at frame %d; first %d last %d)",
		dropped, l.missing, l.span, gap, at, ps[0].frame, ps[len(ps)-1].frame)
	if dropped < uint64(l.span)/100 {
		t.Fatalf("the relays dropped only %d packets: the impairment did not happen", dropped)
	}
	if gap > keyEvery {
		t.Fatalf("%d frames in a row undecodable (from frame %d), longer than the %d-frame keyframe interval", gap, at-uint32(gap)+1, keyEvery)
	}
}

// A viewer's leg goes dark for 3 s both ways; when it comes back, media
// flows again on the same connection, SSRC and sequence space: no
// renegotiation, no new subscription.
func TestThreeSecondBlackholeOnAViewerLegResumes(t *testing.T) {
	x := startRun(t, direct, leg{up: &impair.Config{}, down: &impair.Config{}}, 100)
	eventually(t, 10*time.Second, "a second of video", func() bool { return x.v.count() > 400 })
	before := x.v.packets()
	last := before[len(before)-1]

	x.viewRelay.SetBlackhole(impair.ClientToTarget, true)
	x.viewRelay.SetBlackhole(impair.TargetToClient, true)
	eventually(t, time.Second, "the black hole to swallow packets", func() bool {
		return x.viewRelay.Counters(impair.TargetToClient).Dropped > 0
	})
	dark := time.Now()
	n := x.v.count()
	for time.Since(dark) < 3*time.Second {
		time.Sleep(50 * time.Millisecond) // the outage itself: nothing to poll for
	}
	if got := x.v.count() - n; got > 10 {
		t.Fatalf("%d packets crossed the black hole", got)
	}
	x.viewRelay.SetBlackhole(impair.ClientToTarget, false)
	x.viewRelay.SetBlackhole(impair.TargetToClient, false)
	light := time.Now()
	frame := x.pub.frames.Load()

	var resumed got
	eventually(t, 3*time.Second, "media after the black hole", func() bool {
		for _, p := range x.v.packets() {
			if p.frame > frame {
				resumed = p
				return true
			}
		}
		return false
	})
	if resumed.ssrc != last.ssrc {
		t.Fatalf("SSRC changed across the outage: %x → %x", last.ssrc, resumed.ssrc)
	}
	if d := resumed.seq - last.seq; d == 0 || d > 2000 {
		t.Fatalf("sequence jumped from %d to %d across the outage", last.seq, resumed.seq)
	}
	if st := x.v.pc.SignalingState(); st != webrtc.SignalingStateStable {
		t.Fatalf("signalling state %v", st)
	}
	// A decodable picture follows within a keyframe interval.
	eventually(t, 2*time.Second, "a keyframe after the outage", func() bool {
		for _, p := range x.v.packets() {
			if p.key && p.frame > frame {
				return true
			}
		}
		return false
	})
	t.Logf("media resumed %v after the black hole lifted (frame %d, seq %d → %d)",
		resumed.at.Sub(light).Round(time.Millisecond), resumed.frame, last.seq, resumed.seq)
}
