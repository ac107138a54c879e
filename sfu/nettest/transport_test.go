package nettest

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatsfu/seatsfu/sfu"
)

// Networks that block UDP (PROTOCOL.md §9): a viewer that may use only TCP
// reaches the SFU over ICE-TCP, and one that may use only relay candidates
// reaches it through the embedded TURN server; both receive the seat's
// media. The publisher stays on plain UDP.

// transportServer is server() with ICE-TCP and TURN on.
func transportServer(t *testing.T) (*sfu.SFU, *sfu.Room, *prometheus.Registry) {
	t.Helper()
	return transportServerWith(t, 0)
}

// transportServerWith is transportServer with a TURN allocation cap per
// user (0: the default).
func transportServerWith(t *testing.T, maxAllocs int) (*sfu.SFU, *sfu.Room, *prometheus.Registry) {
	t.Helper()
	return serverWith(t, sfu.Config{TURNMaxAllocations: maxAllocs, IPs: []string{"127.0.0.1"},
		ICETCP: true, TURN: true, TURNSecret: []byte("a secret of the test, 32 bytes!!")})
}

// restrictedViewer subscribes to seat 0 with a client limited to networks
// and, when relay is set, to relay candidates through iceServers; it counts
// the video packets it receives and remembers the candidate pair it used.
type restrictedViewer struct {
	pc    *webrtc.PeerConnection
	video atomic.Int64
	audio atomic.Int64
	wg    sync.WaitGroup
}

func startRestrictedViewer(t *testing.T, r *sfu.Room, networks []webrtc.NetworkType, servers []webrtc.ICEServer) *restrictedViewer {
	t.Helper()
	var rewrite func(string) string
	if servers != nil {
		// Only the relay path is open: Pion would still dial the server's
		// ICE-TCP candidate directly (active TCP ignores the relay-only
		// policy), which a network that allows only its TURN server
		// forbids too.
		rewrite = withoutTCPCandidates
	}
	return startRestrictedViewerVia(t, r, networks, servers, rewrite)
}

// startRestrictedViewerVia is startRestrictedViewer with the server's
// answer passed through rewrite (nil: as it is).
func startRestrictedViewerVia(t *testing.T, r *sfu.Room, networks []webrtc.NetworkType, servers []webrtc.ICEServer, rewrite func(string) string) *restrictedViewer {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	se.SetNetworkTypes(networks)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	cfg := webrtc.Configuration{ICEServers: servers}
	if servers != nil {
		cfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se)).NewPeerConnection(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v := &restrictedViewer{pc: pc}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		v.wg.Add(1)
		defer v.wg.Done()
		n := &v.audio
		if tr.Kind() == webrtc.RTPCodecTypeVideo {
			n = &v.video
		}
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			n.Add(1)
		}
	})
	offer := gatheredOffer(t, pc)
	_, answer, _, err := r.Subscribe("viewer", offer, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rewrite != nil {
		answer = rewrite(answer)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = pc.Close()
		v.wg.Wait()
	})
	return v
}

func withoutTCPCandidates(sdp string) string {
	var out []string
	for _, l := range strings.SplitAfter(sdp, "\n") {
		if f := strings.Fields(l); len(f) > 2 && strings.HasPrefix(f[0], "a=candidate:") && strings.EqualFold(f[2], "tcp") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "")
}

// selectedPair is the candidate pair the client's ICE transport chose.
func (v *restrictedViewer) selectedPair(t *testing.T) *webrtc.ICECandidatePair {
	t.Helper()
	for _, tr := range v.pc.GetTransceivers() {
		if s := tr.Sender(); s != nil && s.Transport() != nil {
			p, err := s.Transport().ICETransport().GetSelectedCandidatePair()
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		if r := tr.Receiver(); r != nil && r.Transport() != nil {
			p, err := r.Transport().ICETransport().GetSelectedCandidatePair()
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
	}
	t.Fatal("no transport")
	return nil
}

func receivesMedia(t *testing.T, v *restrictedViewer) {
	t.Helper()
	eventually(t, 20*time.Second, "the connection", func() bool {
		return v.pc.ConnectionState() == webrtc.PeerConnectionStateConnected
	})
	eventually(t, 10*time.Second, "200 video and 20 audio packets", func() bool {
		return v.video.Load() >= 200 && v.audio.Load() >= 20
	})
}

func TestViewerWithoutUDPReceivesOverICETCP(t *testing.T) {
	s, r, _ := transportServer(t)
	receivesOverICETCP(t, s, r)
}

func TestRelayOnlyViewerReceivesThroughTURN(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			s, r, reg := transportServer(t)
			startPublisher(t, r, direct, 3, 50)
			servers := s.ICEServers("viewer", time.Now().Add(time.Hour), "")
			if len(servers) != 1 {
				t.Fatalf("ICE servers %+v, want the embedded TURN server", servers)
			}
			var urls []string
			for _, u := range servers[0].URLs {
				if strings.HasSuffix(u, "transport="+transport) {
					urls = append(urls, u)
				}
			}
			if len(urls) != 1 {
				t.Fatalf("no %s URL in %v", transport, servers[0].URLs)
			}
			// Relay candidates are UDP relays whichever transport
			// reaches the TURN server, so Pion needs UDP allowed for them.
			networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
			if transport == "tcp" {
				networks = append(networks, webrtc.NetworkTypeTCP4)
			}
			v := startRestrictedViewer(t, r, networks,
				[]webrtc.ICEServer{{URLs: urls, Username: servers[0].Username, Credential: servers[0].Credential}})
			receivesMedia(t, v)
			if p := v.selectedPair(t); p == nil || p.Local.Typ != webrtc.ICECandidateTypeRelay {
				t.Fatalf("selected pair %v, want a relay candidate on the client's side", p)
			}
			if n := labelled(t, reg, "seatsfu_turn_allocations_total", "transport", transport); n < 1 {
				t.Fatalf("no TURN allocation over %s", transport)
			}
		})
	}
}

func TestTURNRefusesExpiredAndForgedCredentials(t *testing.T) {
	s, _, _ := transportServer(t)
	good := s.ICEServers("viewer", time.Now().Add(time.Hour), "")[0]
	expired := s.ICEServers("viewer", time.Now().Add(-time.Minute), "")[0]
	for name, srv := range map[string]webrtc.ICEServer{
		"good":       {URLs: good.URLs[:1], Username: good.Username, Credential: good.Credential},
		"expired":    {URLs: expired.URLs[:1], Username: expired.Username, Credential: expired.Credential},
		"forged":     {URLs: good.URLs[:1], Username: good.Username, Credential: "AAAA" + good.Credential[4:]},
		"other user": {URLs: good.URLs[:1], Username: strings.Replace(good.Username, "viewer", "owner", 1), Credential: good.Credential},
	} {
		t.Run(name, func(t *testing.T) {
			pc, err := clientAPI(nil).NewPeerConnection(webrtc.Configuration{ICEServers: []webrtc.ICEServer{srv},
				ICETransportPolicy: webrtc.ICETransportPolicyRelay})
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
				t.Fatal(err)
			}
			// Gathering completes once the allocation succeeded or was
			// refused: a relay candidate means the server allocated.
			relayed := strings.Contains(gatheredOffer(t, pc), "typ relay")
			if relayed != (name == "good") {
				t.Fatalf("%s credentials: relay candidate %v", name, relayed)
			}
		})
	}
}

// labelled reads one labelled counter from the server's registry.
func labelled(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no metric %s{%s=%q}", name, label, value)
	return 0
}

// relayGathered reports whether a client given srv gets a relay candidate
// (gathering completes once the allocation succeeded or was refused); the
// client stays open, holding its allocation, until the test ends.
func relayGathered(t *testing.T, srv webrtc.ICEServer) bool {
	t.Helper()
	pc, err := clientAPI(nil).NewPeerConnection(webrtc.Configuration{ICEServers: []webrtc.ICEServer{srv},
		ICETransportPolicy: webrtc.ICETransportPolicyRelay})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	return strings.Contains(gatheredOffer(t, pc), "typ relay")
}

func TestTURNCapsAUsersAllocations(t *testing.T) {
	s, _, reg := transportServerWith(t, 2)
	creds := func(user string) webrtc.ICEServer {
		is := s.ICEServers(user, time.Now().Add(time.Hour), "")[0]
		return webrtc.ICEServer{URLs: is.URLs[:1], Username: is.Username, Credential: is.Credential}
	}
	for i := range 2 {
		if !relayGathered(t, creds("greedy")) {
			t.Fatalf("allocation %d of 2 refused", i+1)
		}
	}
	if relayGathered(t, creds("greedy")) {
		t.Fatal("a third allocation for one user")
	}
	if !relayGathered(t, creds("other")) {
		t.Fatal("another user refused because of the first one's allocations")
	}
	if n := metric(t, reg, "seatsfu_turn_allocations_refused_total"); n < 1 {
		t.Fatalf("refusals counted %v", n)
	}
}

// receivesOverICETCP: a publisher on UDP and a viewer allowed only TCP,
// which receives over the server's ICE-TCP port.
func receivesOverICETCP(t *testing.T, s *sfu.SFU, r *sfu.Room) {
	t.Helper()
	if s.TCPAddr() == nil {
		t.Fatal("ICE-TCP is on but has no address")
	}
	startPublisher(t, r, direct, 3, 50)
	v := startRestrictedViewer(t, r, []webrtc.NetworkType{webrtc.NetworkTypeTCP4}, nil)
	receivesMedia(t, v)
	p := v.selectedPair(t)
	if p == nil || p.Remote.Protocol != webrtc.ICEProtocolTCP || p.Remote.Port != uint16(s.TCPAddr().Port) {
		t.Fatalf("selected pair %v, want the server's ICE-TCP port %d", p, s.TCPAddr().Port)
	}
}
