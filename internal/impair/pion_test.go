package impair

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// loopbackAPI is a Pion API that gathers only 127.0.0.1 host candidates and
// runs no interceptors (so no NACK hides the relay's loss).
func loopbackAPI(t *testing.T) *webrtc.API {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	s := webrtc.SettingEngine{}
	s.SetIncludeLoopbackCandidate(true)
	s.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s))
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A Pion client reaches a Pion server only through the relay (its offer
// carries no candidates, the server's answer names only the relay); ICE and
// DTLS establish despite 5 % seeded loss, and RTP arrives with about that
// loss.
func TestPionThroughRelay(t *testing.T) {
	server, err := loopbackAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	client, err := loopbackAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	var readers sync.WaitGroup
	defer func() {
		client.Close()
		server.Close()
		readers.Wait()
	}()

	var received atomic.Int64
	var remote atomic.Pointer[webrtc.ICECandidatePair]
	server.OnTrack(func(tr *webrtc.TrackRemote, rcv *webrtc.RTPReceiver) {
		if pair, err := rcv.Transport().ICETransport().GetSelectedCandidatePair(); err == nil {
			remote.Store(pair)
		}
		readers.Add(1)
		defer readers.Done()
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			received.Add(1)
		}
	})
	if _, err := server.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}

	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "relay-test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.AddTrack(track); err != nil {
		t.Fatal(err)
	}

	offer, err := client.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(client)
	if err := client.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	stripped := StripCandidates(client.LocalDescription().SDP)
	if err := server.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: stripped}); err != nil {
		t.Fatal(err)
	}
	answer, err := server.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered = webrtc.GatheringCompletePromise(server)
	if err := server.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-gathered

	target, ok := HostCandidate(server.LocalDescription().SDP)
	if !ok {
		t.Fatalf("server answer has no host candidate:\n%s", server.LocalDescription().SDP)
	}
	relay := newRelay(t, target, Config{Seed: 1, Loss: 0.05}, Config{Seed: 2, Loss: 0.05})
	rewritten := RewriteCandidates(server.LocalDescription().SDP, relay.Addr())
	if err := client.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: rewritten}); err != nil {
		t.Fatal(err)
	}

	waitFor(t, "DTLS/ICE through the relay", 15*time.Second, func() bool {
		return client.ConnectionState() == webrtc.PeerConnectionStateConnected &&
			server.ConnectionState() == webrtc.PeerConnectionStateConnected
	})

	// Keep sending until the server's track shows up, then a counted batch.
	payload := make([]byte, 200)
	payload[0] = 0x10 // VP8 descriptor: start of partition 0
	seq := uint16(0)
	send := func() {
		seq++
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 3000}, Payload: payload}
		if err := track.WriteRTP(pkt); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the first RTP packet", 10*time.Second, func() bool {
		send()
		return received.Load() > 0
	})
	before := received.Load()
	const batch = 1000
	for i := 0; i < batch; i++ {
		send()
		if i%10 == 9 {
			time.Sleep(time.Millisecond) // pace like a 10 000 pkt/s sender
		}
	}
	// Wait until the count settles (no packet arrives for 300 ms).
	last, settled := received.Load(), time.Now()
	waitFor(t, "the batch to drain", 10*time.Second, func() bool {
		if n := received.Load(); n != last {
			last, settled = n, time.Now()
		}
		return time.Since(settled) > 300*time.Millisecond
	})
	got := received.Load() - before
	if got < batch*90/100 || got > batch*99/100 {
		t.Fatalf("%d of %d RTP packets through 5%% loss", got, batch)
	}
	c := relay.Counters(ClientToTarget)
	if c.Dropped == 0 || c.In < batch {
		t.Fatalf("relay counters %+v", c)
	}

	// The server only ever saw the relay: its peer is peer-reflexive.
	pair := remote.Load()
	if pair == nil {
		t.Fatal("no selected candidate pair on the server")
	}
	if pair.Remote.Typ != webrtc.ICECandidateTypePrflx || pair.Remote.Address != "127.0.0.1" {
		t.Fatalf("server's remote candidate %+v, want the relay as prflx", pair.Remote)
	}
	t.Logf("%d of %d packets arrived; relay client→target %+v", got, batch, c)
}
