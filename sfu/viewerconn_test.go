package sfu

import (
	"net"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/seatsfu/seatsfu/seat"
)

// answerShape is what must agree between the two transports' answers for
// one offer: per m-line its mid, direction, codecs with their payload
// types, format parameters and feedback, header extensions, msid, and
// whether it carries an FID group — not the random parts (SSRCs, ICE
// credentials, fingerprint, candidates' foundations).
func answerShape(sdp string) []string {
	keep := regexp.MustCompile(`^a=(mid|rtpmap|fmtp|rtcp-fb|extmap|msid|setup|rtcp-mux|rtcp-rsize|sendonly|recvonly|inactive|sendrecv|group)[:]?`)
	var out []string
	var cur []string
	flush := func() {
		sort.Strings(cur)
		out = append(out, cur...)
		cur = nil
	}
	for _, l := range strings.Split(strings.ReplaceAll(sdp, "\r\n", "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "m="):
			flush()
			out = append(out, l)
		case strings.HasPrefix(l, "a=ssrc-group:FID"):
			cur = append(cur, "a=ssrc-group:FID")
		case keep.MatchString(l):
			cur = append(cur, l)
		}
	}
	flush()
	return out
}

func subscribeAnswer(t *testing.T, transport, offer string) (string, []Slot) {
	t.Helper()
	s := newTestSFUWith(t, func(c *Config) { c.ViewerTransport = transport })
	r, _ := openTestRoom(t, s, 2, seat.ModeFree)
	p, ans, slots, err := r.Subscribe("u", offer, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	if (transport == ViewerTransportOwn) != (p.pc == nil) {
		t.Fatalf("transport %s: pc %v", transport, p.pc)
	}
	return ans, slots
}

// The own transport answers an offer as the Pion path does: the same
// m-lines and mids, codecs at the same payload types with the same
// parameters and feedback, RTX in an FID group, transport-cc, msid, the
// same directions (inactive past the co-host slots) and slots.
func TestOwnTransportAnswersLikePion(t *testing.T) {
	pc, err := clientAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for range 12 { // past the seats and co-host slots: some answered inactive
		for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
			if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
				t.Fatal(err)
			}
		}
	}
	offer := gatheredOffer(t, pc)
	pionAns, pionSlots := subscribeAnswer(t, ViewerTransportPion, offer)
	ownAns, ownSlots := subscribeAnswer(t, ViewerTransportOwn, offer)
	want, got := answerShape(pionAns), answerShape(ownAns)
	if strings.Join(want, "\n") != strings.Join(got, "\n") {
		t.Fatalf("answers differ.\npion:\n%s\n\nown:\n%s", strings.Join(want, "\n"), strings.Join(got, "\n"))
	}
	if len(pionSlots) != len(ownSlots) {
		t.Fatalf("slots %v vs %v", pionSlots, ownSlots)
	}
	for i := range pionSlots {
		if pionSlots[i] != ownSlots[i] {
			t.Fatalf("slot %d: %v vs %v", i, pionSlots[i], ownSlots[i])
		}
	}
	if !strings.Contains(ownAns, "typ host") || strings.Contains(ownAns, "ice-lite") {
		t.Fatalf("own answer's ICE:\n%s", ownAns)
	}
}

// Viewers on the own transport receive media, answer NACKs, and cost no
// Pion PeerConnection: the only ICE agents in the process are the
// publisher's two and the viewers' clients, and once the viewers sent
// their first RTCP no DTLS connection of theirs is left on the server.
func TestOwnViewersRunNoPeerConnection(t *testing.T) {
	s := newTestSFUWith(t, func(c *Config) { c.ViewerTransport = ViewerTransportOwn })
	r, _ := openTestRoom(t, s, 2, seat.ModeFree)
	api := clientAPI(t)
	startPublisher(t, r, api, "owner", 'O')
	var vs []*testViewer
	for i := range 3 {
		vs = append(vs, startViewer(t, r, api, "v"+string(rune('a'+i)), 2, true))
	}
	for _, v := range vs {
		mid := v.mid(t, 0, "video")
		eventually(t, 10*time.Second, "viewers receiving", func() bool { return v.count(mid) >= 5 })
	}
	if n, want := goroutinesOf("taskloop.(*Loop).runLoop"), 2+len(vs); n != want {
		t.Fatalf("%d ICE agents, want %d (the publisher's two and one per viewer client)", n, want)
	}
	met := s.own.Metrics()
	eventually(t, 10*time.Second, "the viewers' DTLS torn down", func() bool { return testutil.ToFloat64(met.DTLSActive) == 0 })
	if n := testutil.ToFloat64(met.Viewers); n != 3 {
		t.Fatalf("own_viewers %v", n)
	}
	for _, v := range vs {
		if st := v.pc.ConnectionState(); st != webrtc.PeerConnectionStateConnected {
			t.Fatalf("a viewer is %v after the DTLS teardown", st)
		}
	}
}

// The policy: auto takes the own transport unless the node runs TURN (a
// viewer that reaches neither port needs Pion's relay candidates), own and
// pion are what they say, and without the direct egress path there is no
// own transport.
func TestViewerTransportPolicy(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want bool
	}{
		{Config{}, true},
		{Config{ViewerTransport: ViewerTransportAuto, ICETCP: true}, true},
		{Config{TURN: true}, false},
		{Config{ViewerTransport: ViewerTransportOwn, ICETCP: true}, true},
		{Config{ViewerTransport: ViewerTransportPion}, false},
		{Config{ViewerTransport: ViewerTransportOwn, PionEgress: true}, false},
	} {
		if got := ownTransport(c.cfg); got != c.want {
			t.Errorf("%+v: own %v, want %v", c.cfg, got, c.want)
		}
	}
	if _, err := New(Config{ListenIP: "127.0.0.1", ViewerTransport: "quic"}); err == nil {
		t.Fatal("an unknown viewer transport was accepted")
	}
}

// sdpValue is the first "a=key:" value of an SDP.
func sdpValue(sdp, key string) string {
	for _, l := range strings.Split(strings.ReplaceAll(sdp, "\r\n", "\n"), "\n") {
		if v, ok := strings.CutPrefix(l, "a="+key+":"); ok {
			return v
		}
	}
	return ""
}

// A viewer that nominates a new address (its network changed: a new
// candidate pair) has its media follow it there at once: the direct
// egress path sends to wherever ICE last nominated.
func TestOwnViewerMediaFollowsANewNomination(t *testing.T) {
	s := newTestSFUWith(t, func(c *Config) { c.ViewerTransport = ViewerTransportOwn })
	r, _ := openTestRoom(t, s, 2, seat.ModeFree)
	api := clientAPI(t)
	startPublisher(t, r, api, "owner", 'O')
	tv := startViewer(t, r, api, "viewer", 1, true)
	v0 := tv.mid(t, 0, "video")
	eventually(t, 10*time.Second, "media at the first address", func() bool { return tv.count(v0) >= 5 })

	// The viewer's agent, from its new address: same credentials.
	ours, theirs := tv.pc.RemoteDescription().SDP, tv.pc.LocalDescription().SDP
	moved, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer moved.Close()
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest,
		stun.NewUsername(sdpValue(ours, "ice-ufrag")+":"+sdpValue(theirs, "ice-ufrag")),
		ice.AttrControlling(1), ice.PriorityAttr(1), ice.UseCandidate(),
		stun.NewShortTermIntegrity(sdpValue(ours, "ice-pwd")), stun.Fingerprint)
	if _, err := moved.WriteToUDP(req.Raw, s.Addr()); err != nil {
		t.Fatal(err)
	}
	srtp := 0
	buf := make([]byte, 1500)
	deadline := time.Now().Add(10 * time.Second)
	for srtp < 10 {
		_ = moved.SetReadDeadline(deadline)
		n, _, err := moved.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("%d SRTP packets at the new address: %v", srtp, err)
		}
		if n > 12 && buf[0]&0xc0 == 0x80 && (buf[1] < 192 || buf[1] > 223) {
			srtp++
		}
	}
}

// AfterClose runs its callbacks once the peer is closed, or at once on a
// closed peer: waiting for a close costs no goroutine.
func TestAfterClose(t *testing.T) {
	s := newTestSFUWith(t, func(c *Config) { c.ViewerTransport = ViewerTransportOwn })
	r, _ := openTestRoom(t, s, 2, seat.ModeFree)
	pc, err := clientAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	p, _, _, err := r.Subscribe("u", gatheredOffer(t, pc), 0)
	if err != nil {
		t.Fatal(err)
	}
	var ran []string
	p.AfterClose(func() { ran = append(ran, "before") })
	if len(ran) != 0 {
		t.Fatal("ran before the close")
	}
	_ = p.Close()
	p.AfterClose(func() { ran = append(ran, "after") })
	if strings.Join(ran, ",") != "before,after" {
		t.Fatalf("ran %v", ran)
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("callbacks ran before Done")
	}
}
