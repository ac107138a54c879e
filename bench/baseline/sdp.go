package baseline

import (
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"
)

// answer applies offer to pc and returns its complete answer.
func answer(pc *webrtc.PeerConnection, offer string) (string, error) {
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("baseline: offer: %w", err)
	}
	return pcAnswer(pc)
}

// pcAnswer creates pc's answer and waits for ICE gathering (no trickle).
func pcAnswer(pc *webrtc.PeerConnection) (string, error) {
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("baseline: answer: %w", err)
	}
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return "", fmt.Errorf("baseline: local description: %w", err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		return "", fmt.Errorf("baseline: ICE gathering timed out")
	}
	return pc.LocalDescription().SDP, nil
}
