package client_test

// PROTOCOL.md §9 through the SDK: the snapshot's ICE servers, rtc.setQuality
// and the rtc.quality it causes.

import (
	"testing"

	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
)

func TestSetQualityAndQualityNotes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	e.join(room, "olive", proto.RoleOwner, &client.CreateOptions{MaxSeats: 2})
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	ctx := ctxT(t)
	if s := ann.ICEServers(); len(s) != 0 {
		t.Fatalf("ICE servers %+v from a server without TURN", s)
	}

	refused(t, "setQuality before subscribing", ann.SetQuality(ctx, 0, proto.QualityLow), client.ErrInvalidParams)
	notes := make(chan proto.QualityNote, 16)
	defer ann.OnQuality(func(n proto.QualityNote) { notes <- n })()
	sub, _ := offer(t, []webrtc.RTPCodecParameters{opus, vp8}, append(audioVideo, audioVideo...), webrtc.RTPTransceiverDirectionRecvonly)
	_, _, err := ann.Subscribe(ctx, sub)
	must(t, "subscribe", err)

	// The first rtc.quality tells every video slot's state: no seat
	// sends video yet.
	select {
	case n := <-notes:
		seen := map[int]proto.Layer{}
		for _, s := range n.Slots {
			seen[s.SeatIndex] = s.Layer
		}
		if len(n.Slots) != 2 || seen[0] != proto.LayerNone || seen[1] != proto.LayerNone {
			t.Fatalf("first rtc.quality %+v, want seats 0 and 1 at none", n)
		}
	case <-ctx.Done():
		t.Fatal("no rtc.quality after subscribing")
	}

	must(t, "setQuality off", ann.SetQuality(ctx, 0, proto.QualityOff))
	must(t, "setQuality low", ann.SetQuality(ctx, 1, proto.QualityLow))
	refused(t, "setQuality of a seat the room lacks", ann.SetQuality(ctx, 2, proto.QualityLow), client.ErrSeatIndexInvalid)
	refused(t, "setQuality with a bad quality", ann.SetQuality(ctx, 0, "ultra"), client.ErrInvalidParams)
	err = ann.Call(ctx, proto.MethodRTCSetQuality, rawParams(`{"quality":"low"}`), nil)
	refused(t, "setQuality without a seat index", err, client.ErrInvalidParams)
}
