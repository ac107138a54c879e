package signal_test

import (
	"testing"

	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// offer makes a real browser-like offer with pairs audio+video m-lines in
// direction dir, from a peer connection closed at the end of the test.
func offer(t *testing.T, pairs int, dir webrtc.RTPTransceiverDirection) string {
	t.Helper()
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	for i := 0; i < pairs; i++ {
		for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
			if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: dir}); err != nil {
				t.Fatal(err)
			}
		}
	}
	o, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return pc.LocalDescription().SDP
}

func TestPublishSubscribeCandidate(t *testing.T) {
	env := signaltest.Start(t)
	owner, _ := join(t, env, "r1", "boss", proto.RoleOwner, map[string]any{"create": map[string]any{"maxSeats": 3}})
	ann, _ := join(t, env, "r1", "ann", proto.RoleAudience, nil)

	cand := map[string]any{"pc": "publish", "candidate": map[string]any{"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host", "sdpMid": "0"}}
	wantReason(t, owner, "rtc.candidate", cand, "invalid_params") // nothing to add it to yet

	var pub struct{ SDP string }
	call(t, owner, "rtc.publish", map[string]any{"sdp": offer(t, 1, webrtc.RTPTransceiverDirectionSendonly)}, &pub)
	if pub.SDP == "" {
		t.Fatal("empty publish answer")
	}
	call(t, owner, "rtc.candidate", cand, nil)
	wantReason(t, owner, "rtc.publish", map[string]any{"sdp": "v=0 nonsense"}, "bad_sdp")

	wantReason(t, ann, "rtc.publish", map[string]any{"sdp": offer(t, 1, webrtc.RTPTransceiverDirectionSendonly)}, "publish_forbidden")
	var sub struct {
		SDP   string
		Slots []struct {
			Mid       string
			Kind      string
			SeatIndex int
		}
	}
	call(t, ann, "rtc.subscribe", map[string]any{"sdp": offer(t, 3, webrtc.RTPTransceiverDirectionRecvonly)}, &sub)
	if sub.SDP == "" || len(sub.Slots) != 6 {
		t.Fatalf("subscribe: %d slots", len(sub.Slots))
	}
	for _, sl := range sub.Slots {
		if sl.Mid == "" || sl.SeatIndex < 0 || sl.SeatIndex > 2 || (sl.Kind != "audio" && sl.Kind != "video") {
			t.Fatalf("slot %+v", sl)
		}
	}
	cand["pc"] = "subscribe"
	call(t, ann, "rtc.candidate", cand, nil)
}
