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
	_, r, _ := server(t)
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

	srs := v.senderReports()
	audio := map[uint32]got{}
	for _, p := range v.audioPackets() {
		audio[p.frame] = p
	}
	checked, worst := 0, 0.0
	var firstVideo uint32
	for _, p := range v.packets() {
		if p.frame <= unmuted {
			continue
		}
		if firstVideo == 0 {
			firstVideo = p.frame
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
		t.Fatalf("only %d frames after the unmute had both kinds and SRs (%d SRs)", checked, len(srs))
	}
	t.Logf("%d frames after the video rebase checked; worst audio/video skew %.2f ms (%d SRs)", checked, worst, len(srs))
}
