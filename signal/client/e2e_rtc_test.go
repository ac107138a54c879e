package client_test

// PROTOCOL.md §9 through the SDK: the snapshot's ICE servers, rtc.setQuality
// and the rtc.quality it causes.

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
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

// A simulcast publisher through the SDK hears rtc.publisherLayers: with no
// viewer no layer is wanted; a viewer (on high by default) wants high; the
// viewer's rtc.setQuality low moves the want to low.
func TestPublisherLayersThroughTheSDK(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, &client.CreateOptions{MaxSeats: 2})
	ctx := ctxT(t)
	layers := make(chan proto.PublisherLayersNote, 64)
	defer owner.OnPublisherLayers(func(n proto.PublisherLayersNote) { layers <- n })()
	want := func(w proto.PublisherLayersNote) {
		t.Helper()
		for {
			select {
			case n := <-layers:
				if n == w {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no rtc.publisherLayers %+v", w)
			}
		}
	}
	startSimulcast(t, owner)
	want(proto.PublisherLayersNote{})

	ann := e.join(room, "ann", proto.RoleAudience, nil)
	pc, sub, _ := offerPC(t, []webrtc.RTPCodecParameters{opus, vp8}, audioVideo, webrtc.RTPTransceiverDirectionRecvonly)
	connected := make(chan struct{})
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	answer, _, err := ann.Subscribe(ctx, sub)
	must(t, "subscribe", err)
	must(t, "remote description", pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}))
	want(proto.PublisherLayersNote{High: true})
	select {
	case <-connected:
	case <-ctx.Done():
		t.Fatal("the viewer's connection did not come up")
	}
	must(t, "setQuality low", ann.SetQuality(ctx, 0, proto.QualityLow))
	// Low is wanted at once (with high while the switch waits for low's
	// keyframe), then alone. The switch completes only for a connected
	// viewer (a viewer gets no media before its connection is up), hence
	// the connection above. Notes are coalesced: the pending {high, low}
	// is reported only if the report runs before low's next keyframe
	// (every 200 ms here), so the end state is what is awaited.
	want(proto.PublisherLayersNote{Low: true})
}

// startSimulcast publishes three VP8 layers (q, h, f) from a Pion client
// through c, stamping the MID and RID header extensions as a browser does,
// until the test ends.
func startSimulcast(t *testing.T, c *client.Client) {
	t.Helper()
	me := &webrtc.MediaEngine{}
	must(t, "codec", me.RegisterCodec(vp8, webrtc.RTPCodecTypeVideo))
	must(t, "extensions", webrtc.ConfigureSimulcastExtensionHeaders(me))
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me)).NewPeerConnection(webrtc.Configuration{})
	must(t, "peer connection", err)
	var tracks []*webrtc.TrackLocalStaticRTP
	for _, rid := range []string{"q", "h", "f"} {
		tk, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "v", "s", webrtc.WithRTPStreamID(rid))
		must(t, "track", err)
		tracks = append(tracks, tk)
	}
	tr, err := pc.AddTransceiverFromTrack(tracks[0], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	must(t, "transceiver", err)
	for _, tk := range tracks[1:] {
		must(t, "encoding", tr.Sender().AddEncoding(tk))
	}
	o, err := pc.CreateOffer(nil)
	must(t, "offer", err)
	gathered := webrtc.GatheringCompletePromise(pc)
	must(t, "local description", pc.SetLocalDescription(o))
	<-gathered
	answer, err := c.Publish(ctxT(t), pc.LocalDescription().SDP)
	must(t, "publish", err)
	must(t, "remote description", pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}))
	var midID, ridID uint8
	for _, ext := range tr.Sender().GetParameters().HeaderExtensions {
		switch ext.URI {
		case sdp.SDESMidURI:
			midID = uint8(ext.ID)
		case sdp.SDESRTPStreamIDURI:
			ridID = uint8(ext.ID)
		}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var seq uint16
		for frame := uint32(0); ; frame++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			seq++
			for l, tk := range tracks {
				payload := []byte{0x10, 0x01, byte(l), 0, 0, 0}
				if frame%10 == 0 {
					payload[1] = 0x00 // keyframe
				}
				h := rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: frame * 1800, Marker: true}
				_ = h.SetExtension(midID, []byte(tr.Mid()))
				_ = h.SetExtension(ridID, []byte(tk.RID()))
				_ = tk.WriteRTP(&rtp.Packet{Header: h, Payload: payload})
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		_ = pc.Close()
	})
}

func TestICEServersFromTheSnapshot(t *testing.T) {
	t.Parallel()
	e := newEnv(t, signaltest.WithSFUConfig(func(c *sfu.Config) {
		c.TURN, c.TURNSecret = true, []byte("turn key of the test, 32 bytes!!")
	}))
	room := e.newRoom()
	e.join(room, "olive", proto.RoleOwner, nil)
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	servers := ann.ICEServers()
	if len(servers) != 1 || len(servers[0].URLs) != 2 || !strings.HasSuffix(servers[0].Username, ":ann") || servers[0].Credential == "" {
		t.Fatalf("ICE servers %+v, want the embedded TURN server with ann's credentials", servers)
	}
}
