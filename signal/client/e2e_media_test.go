package client_test

// The rtc.* methods with real Pion offers: who may publish, what a bad offer
// gets, and the seat slots of a subscription.

import (
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// offer builds an SDP offer with the given transceivers from a Pion peer
// connection restricted to codecs; the connection is closed at cleanup.
// It also returns the first local ICE candidate, for rtc.candidate.
func offer(t *testing.T, codecs []webrtc.RTPCodecParameters, kinds []webrtc.RTPCodecType, dir webrtc.RTPTransceiverDirection) (string, client.Candidate) {
	t.Helper()
	_, sdp, cand := offerPC(t, codecs, kinds, dir)
	return sdp, cand
}

// offerPC is offer, with its peer connection, for a test that completes it.
func offerPC(t *testing.T, codecs []webrtc.RTPCodecParameters, kinds []webrtc.RTPCodecType, dir webrtc.RTPTransceiverDirection) (*webrtc.PeerConnection, string, client.Candidate) {
	t.Helper()
	var me webrtc.MediaEngine
	for _, c := range codecs {
		kind := webrtc.RTPCodecTypeVideo
		if strings.HasPrefix(c.MimeType, "audio/") {
			kind = webrtc.RTPCodecTypeAudio
		}
		must(t, "register codec", me.RegisterCodec(c, kind))
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(&me))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	must(t, "new peer connection", err)
	t.Cleanup(func() { pc.Close() })
	for _, k := range kinds {
		_, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: dir})
		must(t, "add transceiver", err)
	}
	o, err := pc.CreateOffer(nil)
	must(t, "create offer", err)
	gathered := webrtc.GatheringCompletePromise(pc)
	must(t, "set local description", pc.SetLocalDescription(o))
	select {
	case <-gathered:
	case <-ctxT(t).Done():
		t.Fatal("ICE gathering did not complete")
	}
	sdp := pc.LocalDescription().SDP
	var cand client.Candidate
	for _, line := range strings.Split(sdp, "\r\n") {
		if strings.HasPrefix(line, "a=candidate:") {
			mid, idx := "0", uint16(0)
			cand = client.Candidate{Candidate: strings.TrimPrefix(line, "a="), SDPMid: &mid, SDPMLineIndex: &idx}
			break
		}
	}
	return pc, sdp, cand
}

var (
	opus = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}
	vp8  = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}
	h264 = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, PayloadType: 102}
	audioVideo = []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo}
)

func TestPublishRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, &client.CreateOptions{SeatMode: proto.ModeFree})
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	ctx := ctxT(t)

	good, cand := offer(t, []webrtc.RTPCodecParameters{opus, vp8}, audioVideo, webrtc.RTPTransceiverDirectionSendonly)
	_, err := ann.Publish(ctx, good)
	refused(t, "publishing without a seat", err, client.ErrPublishForbidden)
	_, err = owner.Publish(ctx, "v=0 this is not sdp")
	refused(t, "publishing garbage", err, client.ErrBadSDP)
	onlyH264, _ := offer(t, []webrtc.RTPCodecParameters{h264}, []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo}, webrtc.RTPTransceiverDirectionSendonly)
	_, err = owner.Publish(ctx, onlyH264)
	refused(t, "publishing H.264 into a VP8 room", err, client.ErrUnsupportedCodec)
	twoVideos, _ := offer(t, []webrtc.RTPCodecParameters{vp8}, []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeVideo}, webrtc.RTPTransceiverDirectionSendonly)
	_, err = owner.Publish(ctx, twoVideos)
	refused(t, "publishing two video m-lines", err, client.ErrBadSDP)

	answer, err := owner.Publish(ctx, good)
	must(t, "the owner publishes", err)
	if !strings.Contains(answer, "a=recvonly") || strings.Contains(answer, "a=sendonly") {
		t.Errorf("publish answer is not recvonly:\n%s", answer)
	}
	if !strings.Contains(answer, "a=candidate:") {
		t.Errorf("publish answer carries no candidates:\n%s", answer)
	}
	must(t, "trickle a publish candidate", owner.AddCandidate(ctx, client.PCPublish, cand))

	_, err = ann.TakeSeat(ctx, 1)
	must(t, "ann takes a seat", err)
	_, err = ann.Publish(ctx, good)
	must(t, "a seated guest publishes", err)
	err = owner.Call(ctx, "rtc.candidate", rawParams(`{"pc":"sideways","candidate":{"candidate":""}}`), nil)
	refused(t, "a candidate for an unknown pc", err, client.ErrInvalidParams)
}

func TestSubscribeSlots(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	e.join(room, "olive", proto.RoleOwner, &client.CreateOptions{MaxSeats: 2})
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	ctx := ctxT(t)

	// Six pairs for a two-seat room: two seat slots, then the three co-host
	// slots of the default --max-cohosts 4 (§10); the sixth is inactive.
	var kinds []webrtc.RTPCodecType
	for range 6 {
		kinds = append(kinds, audioVideo...)
	}
	sub, cand := offer(t, []webrtc.RTPCodecParameters{opus, vp8}, kinds, webrtc.RTPTransceiverDirectionRecvonly)
	answer, slots, err := ann.Subscribe(ctx, sub)
	must(t, "subscribe", err)
	if len(slots) != 10 {
		t.Fatalf("slots = %+v, want audio+video for seats 0 and 1 and co-host slots 1..3", slots)
	}
	perSeat := map[int]map[string]bool{}
	mids := map[string]bool{}
	for i, s := range slots {
		if wantCo := max(i/2-1, 0); s.CohostIndex != wantCo || (wantCo > 0) != (s.SeatIndex == -1) {
			t.Errorf("slot %d = %+v, want cohostIndex %d", i, s, wantCo)
		}
		if perSeat[s.SeatIndex] == nil {
			perSeat[s.SeatIndex] = map[string]bool{}
		}
		perSeat[s.SeatIndex][s.Kind] = true
		if mids[s.Mid] {
			t.Errorf("mid %q used by two slots", s.Mid)
		}
		mids[s.Mid] = true
	}
	for i := 0; i < 2; i++ {
		if !perSeat[i]["audio"] || !perSeat[i]["video"] {
			t.Errorf("seat %d slots = %v, want audio and video", i, perSeat[i])
		}
	}
	if n := strings.Count(answer, "a=inactive"); n != 2 {
		t.Errorf("answer has %d inactive m-lines, want the 2 beyond the co-host slots; directions: %v", n, directions(answer))
	}
	must(t, "trickle a subscribe candidate", ann.AddCandidate(ctx, client.PCSubscribe, cand))
}

// directions lists each m-line's direction attribute, in order.
func directions(sdp string) []string {
	var out []string
	for _, line := range strings.Split(sdp, "\r\n") {
		switch line {
		case "a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive":
			out = append(out, strings.TrimPrefix(line, "a="))
		}
	}
	return out
}

// publishAudio publishes a live Opus track for c over a real ICE/DTLS
// connection and keeps sending packets until the test ends.
func publishAudio(t *testing.T, c *client.Client) {
	t.Helper()
	var me webrtc.MediaEngine
	must(t, "register opus", me.RegisterCodec(opus, webrtc.RTPCodecTypeAudio))
	api := webrtc.NewAPI(webrtc.WithMediaEngine(&me))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	must(t, "new peer connection", err)
	track, err := webrtc.NewTrackLocalStaticRTP(opus.RTPCodecCapability, "audio", c.Self().UserID)
	must(t, "new track", err)
	_, err = pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	must(t, "add track", err)
	o, err := pc.CreateOffer(nil)
	must(t, "offer", err)
	gathered := webrtc.GatheringCompletePromise(pc)
	must(t, "set local", pc.SetLocalDescription(o))
	<-gathered
	answer, err := c.Publish(ctxT(t), pc.LocalDescription().SDP)
	must(t, "publish", err)
	must(t, "set remote", pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}))

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // owned by the test: stopped at cleanup
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		payload := []byte{0xf8, 0xff, 0xfe} // an Opus DTX frame
		for seq := uint16(0); ; seq++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: uint32(seq) * 960}, Payload: payload}
			_ = track.WriteRTP(pkt) // before ICE connects the track has no binding yet
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		pc.Close()
	})
}

// PROTOCOL.md §4 rule 7: a host's audio lock shows closedByAdmin; unlocking
// leaves the microphone off until the guest unmutes, then it is on again.
func TestHostMuteNeedsGuestUnmute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, &client.CreateOptions{SeatMode: proto.ModeFree})
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	ctx := ctxT(t)
	_, err := ann.TakeSeat(ctx, 1)
	must(t, "ann takes 1", err)
	publishAudio(t, ann)
	mic := func(want proto.Device) func(proto.SeatChanged) bool {
		return func(ch proto.SeatChanged) bool { return ch.Seats[1].Microphone == want }
	}
	waitSeatWhere(t, owner, "ann's microphone on", mic(proto.DeviceOn))

	must(t, "lock ann's audio", owner.LockSeat(ctx, 1, client.LockOptions{LockAudio: client.Bool(true)}))
	waitSeatWhere(t, owner, "ann's microphone closedByAdmin", mic(proto.DeviceClosedByAdmin))
	must(t, "unlock ann's audio", owner.LockSeat(ctx, 1, client.LockOptions{LockAudio: client.Bool(false)}))
	ch := next[proto.SeatChanged](t, owner, client.MethodSeatChanged)
	if m := ch.Seats[1].Microphone; m != proto.DeviceOff {
		t.Fatalf("after the unlock the microphone shows %q, want off until ann unmutes", m)
	}
	barrier(t, ann, owner) // no seat.changed turns it on by itself
	if m := owner.Seats()[1].Microphone; m != proto.DeviceOff {
		t.Fatalf("the microphone turned %q without an unmute", m)
	}
	must(t, "ann unmutes", ann.SetMuted(ctx, proto.KindAudio, false))
	waitSeatWhere(t, owner, "ann's microphone on after the unmute", mic(proto.DeviceOn))
	must(t, "ann mutes", ann.SetMuted(ctx, proto.KindAudio, true))
	waitSeatWhere(t, owner, "ann's microphone off after the mute", mic(proto.DeviceOff))
}
