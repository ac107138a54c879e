package signal_test

import (
	"testing"

	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// rtc.setQuality sent right behind rtc.subscribe, without waiting for the
// subscribe's answer, applies to that subscription: a socket's requests are
// handled in order (PROTOCOL.md §3), so the subscription exists when the
// setQuality is handled. The first round subscribes afresh; the others
// replace the subscription, whose setQuality must find the new one — never
// none in between. Seat and co-host slots alike (§9, §10).
//
// The demo page's TileFitter asks only once the subscribe is answered, but
// a refused ask there (CI) was blamed on this ordering; this pins it down.
func TestSetQualityPipelinedBehindSubscribe(t *testing.T) {
	env := signaltest.Start(t, signaltest.WithMaxCohosts(2))
	join(t, env, "pipe", "owner", proto.RoleOwner, map[string]any{"create": map[string]any{"maxSeats": 2}})
	w, _ := join(t, env, "pipe", "w", proto.RoleAudience, nil)
	v := signaltest.NewViewer(t, 3) // two seats and co-host slot 1
	// Three requests a round within the socket's burst of 100 (§3).
	const rounds = 25
	for i := range rounds {
		reqs := []signaltest.Req{
			{Method: proto.MethodRTCSubscribe, Params: proto.SDPParams{SDP: v.Offer}},
			{Method: proto.MethodRTCSetQuality, Params: map[string]any{"seatIndex": 1, "quality": "low"}},
			{Method: proto.MethodRTCSetQuality, Params: map[string]any{"cohostIndex": 1, "quality": "off"}},
		}
		res, err := w.Pipeline(testCtx(t), reqs...)
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		for j, r := range res {
			if r.Error != nil {
				t.Fatalf("round %d: %s %v sent right behind rtc.subscribe: refused: %v", i, reqs[j].Method, reqs[j].Params, r.Error)
			}
		}
	}
}
