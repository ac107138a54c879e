package sfu

import (
	"errors"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/seat"
)

func TestPublishRefusesBadOffersWithoutStateChange(t *testing.T) {
	s := newTestSFU(t)
	r, n := openTestRoom(t, s, 2, seat.ModeFree)
	api := clientAPI(t)

	twoVideo, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer twoVideo.Close()
	for i := 0; i < 2; i++ {
		if _, err := twoVideo.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	goodPC, good := newPublisherPC(t, api)
	defer goodPC.pc.Close()

	cases := []struct {
		name  string
		offer string
		want  []error
	}{
		{"garbage", "not sdp at all", []error{ErrBadSDP}},
		{"two video m-lines", gatheredOffer(t, twoVideo), []error{ErrBadSDP, ErrTooManyMLines}},
		{"no VP8", strings.ReplaceAll(good, "VP8/90000", "XYZ/90000"), []error{ErrUnsupportedCodec}},
		{"recvonly", strings.ReplaceAll(good, "a=sendonly", "a=recvonly"), []error{ErrBadSDP}},
	}
	before := len(n.ds)
	for _, c := range cases {
		_, _, err := r.Publish("owner", c.offer)
		for _, w := range c.want {
			if !errors.Is(err, w) {
				t.Errorf("%s: err = %v, want %v", c.name, err, w)
			}
		}
	}
	r.mu.Lock()
	pubs := len(r.publishers)
	r.mu.Unlock()
	if pubs != 0 || len(n.ds) != before {
		t.Errorf("a refused offer changed state: %d publishers, %d new deliveries", pubs, len(n.ds)-before)
	}
	if _, _, _, err := r.Subscribe("viewer", "v=0 broken", 0); !errors.Is(err, ErrBadSDP) {
		t.Errorf("broken subscribe offer: %v", err)
	}
	if _, _, _, err := r.Subscribe("viewer", good, 5); !errors.Is(err, seat.ErrSeatIndexInvalid) {
		t.Errorf("first seat out of range: %v", err)
	}
}
