package client_test

// rtc.setQuality and rtc.quality on co-host slots (PROTOCOL.md §9, §10).

import (
	"testing"

	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
)

func TestCohostSlotQualityThroughTheSDK(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	e.join(room, "olive", proto.RoleOwner, &client.CreateOptions{MaxSeats: 2})
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	ctx := ctxT(t)

	notes := make(chan proto.QualityNote, 16)
	defer ann.OnQuality(func(n proto.QualityNote) { notes <- n })()
	// Two seats and co-host slot 1.
	pairs := append(append(audioVideo, audioVideo...), audioVideo...)
	sub, _ := offer(t, []webrtc.RTPCodecParameters{opus, vp8}, pairs, webrtc.RTPTransceiverDirectionRecvonly)
	_, _, err := ann.Subscribe(ctx, sub)
	must(t, "subscribe", err)
	select {
	case n := <-notes:
		var co []proto.SlotQuality
		for _, s := range n.Slots {
			if s.CohostIndex != 0 {
				co = append(co, s)
			}
		}
		if len(n.Slots) != 3 || len(co) != 1 || co[0] != (proto.SlotQuality{SeatIndex: -1, CohostIndex: 1, Layer: proto.LayerNone}) {
			t.Fatalf("first rtc.quality %+v, want seats 0, 1 and co-host slot 1 (none)", n)
		}
	case <-ctx.Done():
		t.Fatal("no rtc.quality after subscribing")
	}

	must(t, "setQuality of co-host slot 1", ann.SetCohostQuality(ctx, 1, proto.QualityLow))
	must(t, "setQuality of a co-host slot the subscription lacks", ann.SetCohostQuality(ctx, 3, proto.QualityLow))
	for _, k := range []int{0, -1, 4} { // the server's max-cohosts is 4
		refused(t, "setQuality of co-host slot out of range", ann.SetCohostQuality(ctx, k, proto.QualityLow), client.ErrInvalidParams)
	}
	err = ann.Call(ctx, proto.MethodRTCSetQuality, rawParams(`{"seatIndex":0,"cohostIndex":1,"quality":"low"}`), nil)
	refused(t, "setQuality of a seat and a co-host slot at once", err, client.ErrInvalidParams)
}
