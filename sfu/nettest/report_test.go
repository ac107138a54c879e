package nettest

import (
	"math"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/media"
	"github.com/seatsfu/seatsfu/seat"
)

// captureTime maps a packet's RTP timestamp to the wall time its slot's
// latest sender report (received before the packet) says it was captured.
func captureTime(p got, srs []srAt, video bool, rate float64) (time.Time, bool) {
	var last *srAt
	for i := range srs {
		if srs[i].video == video && !srs[i].at.After(p.at) {
			last = &srs[i]
		}
	}
	if last == nil {
		return time.Time{}, false
	}
	d := float64(int32(p.ts-last.sr.RTPTime)) / rate
	return media.NTPToTime(last.sr.NTPTime).Add(time.Duration(d * float64(time.Second))), true
}

// Audio and video of one seat stay lined up in the viewer's sender reports
// after the video slot was re-based by a mute and unmute (its timestamps
// jump by the wall time of the pause; audio's do not): a frame's audio and
// video packets, each mapped through its own slot's SR, name the same
// capture instant. The SRs are the publisher's, translated (sfu/report.go).
func TestSenderReportsKeepLipSyncAcrossAVideoRebase(t *testing.T) {
	_, r, reg := server(t)
	pub, _ := startPublisher(t, r, direct, 1, 50)
	v, _ := startViewer(t, r, "viewer", direct, nil)
	eventually(t, 15*time.Second, "video at the viewer", func() bool { return v.count() > 50 })

	mute := func(muted bool) {
		if err := r.Do(func(sr *seat.Room) ([]seat.Delivery, error) { return sr.SetMuted("owner", seat.KindVideo, muted) }); err != nil {
			t.Fatal(err)
		}
	}
	mute(true)
	paused := pub.frames.Load()
	eventually(t, 5*time.Second, "frames sent while muted", func() bool { return pub.frames.Load() > paused+40 })
	mute(false)
	unmuted := pub.frames.Load()
	eventually(t, 5*time.Second, "video after the unmute", func() bool {
		for _, p := range v.packets() {
			if p.frame > unmuted+150 {
				return true
			}
		}
		return false
	})

	checkLipSync(t, v, func(p got) bool { return p.frame > unmuted })
	// The reports rode with the media (sfu/egress_outbox.go).
	if n := labelled(t, reg, "seatsfu_egress_control_total", "how", "batched"); n == 0 {
		t.Fatal("no control datagram went out in a batch of media")
	}
}

// checkLipSync maps every video packet accepted by after, and the audio
// packet of the same frame, through their slots' latest sender reports, and
// fails if they name capture instants more than 15 ms apart.
func checkLipSync(t *testing.T, v *viewer, after func(got) bool) {
	t.Helper()
	srs := v.senderReports()
	audio := map[uint32]got{}
	for _, p := range v.audioPackets() {
		if after(p) {
			audio[p.frame] = p
		}
	}
	checked, worst := 0, 0.0
	for _, p := range v.packets() {
		if !after(p) {
			continue
		}
		a, ok := audio[p.frame]
		if !ok {
			continue
		}
		tv, okv := captureTime(p, srs, true, 90000)
		ta, oka := captureTime(a, srs, false, 48000)
		if !okv || !oka {
			continue
		}
		skew := tv.Sub(ta).Seconds() * 1000
		worst = max(worst, math.Abs(skew))
		if math.Abs(skew) > 15 {
			t.Fatalf("frame %d: video maps to %v, audio to %v: %.1f ms apart after the rebase", p.frame, tv, ta, skew)
		}
		checked++
	}
	if checked < 100 {
		t.Fatalf("only %d frames had both kinds and SRs (%d SRs)", checked, len(srs))
	}
	t.Logf("%d frames checked; worst audio/video skew %.2f ms (%d SRs)", checked, worst, len(srs))
}

// Seat 1 changes hands between two publishers whose clocks (RTP timestamp
// bases) differ: the viewer's slots keep their SSRCs, and the new
// publisher's audio and video, mapped through the slots' sender reports,
// stay lined up.
func TestSenderReportsKeepLipSyncAcrossASeatHandover(t *testing.T) {
	_, r, _ := server(t)
	seatUser := func(user string) {
		t.Helper()
		if err := r.Do(func(sr *seat.Room) ([]seat.Delivery, error) {
			_, ds, err := sr.Join(seat.User{UserID: user, Name: user, Role: seat.RoleAudience})
			if err != nil {
				return nil, err
			}
			_, more, err := sr.Take(user, 1)
			return append(ds, more...), err
		}); err != nil {
			t.Fatal(err)
		}
	}
	seatUser("alice")
	a, _ := startPublisherAs(t, r, "alice", direct, 1, 50, 0)
	v, _ := startViewerSeat(t, r, "viewer", direct, nil, false, 1)
	eventually(t, 15*time.Second, "alice's video at the viewer", func() bool { return v.count() > 50 })
	before := v.packets()

	if err := r.Do(func(sr *seat.Room) ([]seat.Delivery, error) { return sr.LeaveSeat("alice") }); err != nil {
		t.Fatal(err)
	}
	a.halt()
	seatUser("bob")
	b, _ := startPublisherAs(t, r, "bob", direct, 1, 50, 7_777_777)
	// Bob's packets are told apart from Alice's by arriving after the
	// switch; until Bob's own sender reports came through, the viewer has
	// only Alice's to go by, so lip sync is checked from the first SR of
	// each kind that followed the switch.
	switched := time.Now()
	var synced time.Time
	eventually(t, 15*time.Second, "sender reports for bob's slots and a second of his video after them", func() bool {
		var va, vv time.Time
		for _, sr := range v.senderReports() {
			if sr.at.After(switched) {
				if sr.video && vv.IsZero() {
					vv = sr.at
				} else if !sr.video && va.IsZero() {
					va = sr.at
				}
			}
		}
		if va.IsZero() || vv.IsZero() {
			return false
		}
		synced = va
		if vv.After(va) {
			synced = vv
		}
		n := 0
		for _, p := range v.packets() {
			if p.at.After(synced) {
				n++
			}
		}
		// checkLipSync wants 100 frames with both kinds; the margin covers
		// the audio of the last frames still in flight when this returns.
		return n > 120
	})
	b.halt()
	after := v.packets()
	first := after[len(before)]
	if first.ssrc != before[0].ssrc {
		t.Fatalf("the slot's SSRC changed at the handover: %x → %x", before[0].ssrc, first.ssrc)
	}
	checkLipSync(t, v, func(p got) bool { return p.at.After(synced) })
}
