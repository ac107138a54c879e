package livekit

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/bench/load"
)

const offer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=msid:s2 audio\r\na=sendonly\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=msid:s1 video\r\na=sendonly\r\n"

func TestOfferTracks(t *testing.T) {
	got := offerTracks(offer)
	if len(got) != 2 || got[0] != (offerTrack{"audio", "audio"}) || got[1] != (offerTrack{"video", "video"}) {
		t.Fatalf("tracks %+v", got)
	}
	if len(offerTracks("v=0\r\n")) != 0 {
		t.Fatal("tracks in an SDP without media")
	}
}

// Trickled candidates land in every media section, so a peer that only
// sees the answer string still learns where the server listens.
func TestWithCandidates(t *testing.T) {
	c := []webrtc.ICECandidateInit{{Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 7882 typ host"}, {Candidate: "a=candidate:2 1 tcp 1 127.0.0.1 7881 typ host tcptype passive"}}
	out := withCandidates(offer, c)
	sections := strings.Split(out, "m=")[1:]
	if len(sections) != 2 {
		t.Fatalf("sections %d", len(sections))
	}
	for _, s := range sections {
		if !strings.Contains(s, "a=candidate:1 1 udp 2130706431 127.0.0.1 7882 typ host\r\n") || !strings.Contains(s, "a=candidate:2 1 tcp") {
			t.Fatalf("section lacks a candidate:\n%s", s)
		}
	}
	if strings.Contains(out, "a=a=") {
		t.Fatal("doubled a= prefix")
	}
	if withCandidates(offer, nil) != offer {
		t.Fatal("no candidates changed the SDP")
	}
}

// TestFanoutAgainstLiveKit drives a real LiveKit server end to end when
// LIVEKIT_BIN names one (the binary is not part of this repository).
func TestFanoutAgainstLiveKit(t *testing.T) {
	bin := os.Getenv("LIVEKIT_BIN")
	if bin == "" {
		t.Skip("LIVEKIT_BIN not set: no LiveKit server binary to drive")
	}
	ctx := context.Background()
	lk, err := Start(ctx, bin, -1, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Stop()
	srv := load.Server{Name: "livekit", PID: lk.PID(), BaseURL: lk.MetricsURL, Pinned: lk.Pinned}
	tgt := NewTarget(srv, lk, "test")
	defer tgt.Close()
	r, err := load.Fanout(ctx, tgt, load.Config{Viewers: 3, Guests: 1, Warmup: 2 * time.Second, Duration: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%.0f of %.0f pkt/s, loss %.3f%%, join→key p50 %.0f ms", r.ForwardedPPS, r.ExpectedPPS, r.LossPct, r.JoinKeyframeP50Ms)
	if r.Connected != 3 || r.JoinNoKeyframe != 0 || r.ForwardedPPS < 0.8*r.ExpectedPPS || r.CPUPerPacketUs <= 0 {
		t.Fatalf("connected %d, without keyframe %d, %.0f of %.0f pkt/s, %.2f µs/pkt, errors %v", r.Connected, r.JoinNoKeyframe, r.ForwardedPPS, r.ExpectedPPS, r.CPUPerPacketUs, r.Errors)
	}
}
