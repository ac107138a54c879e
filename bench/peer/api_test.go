package peer

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rtcpTally is an interceptor on the test's sending side that counts the
// RTCP packets arriving from the peer, by type.
type rtcpTally struct {
	interceptor.NoOp
	mu     sync.Mutex
	counts map[string]int
}

func (t *rtcpTally) BindRTCPReader(r interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := r.Read(b, a)
		if err == nil {
			if pkts, uerr := rtcp.Unmarshal(b[:n]); uerr == nil {
				t.mu.Lock()
				for _, p := range pkts {
					switch p.(type) {
					case *rtcp.TransportLayerNack:
						t.counts["nack"]++
					case *rtcp.TransportLayerCC:
						t.counts["twcc"]++
					case *rtcp.ReceiverReport:
						t.counts["rr"]++
					default:
						t.counts["other"]++
					}
				}
				t.mu.Unlock()
			}
		}
		return n, a, err
	})
}

func (t *rtcpTally) get() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]int{}
	for k, v := range t.counts {
		out[k] = v
	}
	return out
}

type tallyFactory struct{ t *rtcpTally }

func (f tallyFactory) NewInterceptor(string) (interceptor.Interceptor, error) { return f.t, nil }

// sender is a minimal forwarder: Pion with its default interceptors (so it
// offers TWCC and NACK like any SFU) plus the tally, answering one viewer's
// offer with a VP8 track.
type sender struct {
	pc    *webrtc.PeerConnection
	track *webrtc.TrackLocalStaticRTP
	tally *rtcpTally
}

func newSender(t *testing.T, offer string) (*sender, string) {
	t.Helper()
	m, s, err := engines()
	if err != nil {
		t.Fatal(err)
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		t.Fatal(err)
	}
	tally := &rtcpTally{counts: map[string]int{}}
	reg.Add(tallyFactory{tally})
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s), webrtc.WithInterceptorRegistry(reg)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "s")
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		t.Fatal(err)
	}
	rtpSender, err := pc.AddTrack(track)
	if err != nil {
		t.Fatal(err)
	}
	// Pion pulls RTCP through the interceptors only while someone reads
	// the sender; the loop ends when the connection closes.
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := rtpSender.Read(buf); err != nil {
				return
			}
		}
	}()
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	sdp, err := gathered(pc, answer, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return &sender{pc: pc, track: track, tally: tally}, sdp
}

// connect builds a one-slot viewer on api against a fresh sender.
func connect(t *testing.T, api *webrtc.API) (*Viewer, *sender, string) {
	t.Helper()
	v, offer, err := NewViewer(api, &Sink{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	s, answer := newSender(t, offer)
	t.Cleanup(func() { _ = s.pc.Close(); _ = v.Close() })
	if err := v.Accept(answer); err != nil {
		t.Fatal(err)
	}
	return v, s, offer
}

// TestViewerSendsNoRTCP proves NewAPI's viewers run no interceptors: on a
// link where the sender skips sequence numbers (a NACK generator would ask
// for them) and offers TWCC, a viewer built with NewAPI sends no RTCP at
// all, while a control viewer on Pion's default API, fed the same packets,
// NACKs — so the tally and the gaps demonstrably work.
func TestViewerSendsNoRTCP(t *testing.T) {
	bare, err := NewAPI()
	if err != nil {
		t.Fatal(err)
	}
	m, s, err := engines()
	if err != nil {
		t.Fatal(err)
	}
	defaults := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s)) // Pion installs its default interceptors

	bv, bs, offer := connect(t, bare)
	_, cs, controlOffer := connect(t, defaults)
	if strings.Contains(offer, "transport-cc") || strings.Contains(offer, "transport-wide-cc") {
		t.Fatalf("a NewAPI viewer offers TWCC:\n%s", offer)
	}
	if !strings.Contains(controlOffer, "transport-cc") {
		t.Fatalf("control viewer does not offer TWCC (is it still on Pion's defaults?):\n%s", controlOffer)
	}

	// Send until the control viewer has NACKed, with every 5th sequence
	// number skipped.
	sendGappy(t, []*sender{bs, cs}, func() bool { return cs.tally.get()["nack"] > 0 })
	if bv.sink.Packets.Load() == 0 {
		t.Fatal("the NewAPI viewer received nothing: the comparison is void")
	}
	if got := bs.tally.get(); len(got) != 0 {
		t.Fatalf("a NewAPI viewer sent RTCP %v over the same link the control viewer NACKed on (control: %v)", got, cs.tally.get())
	}
}

// TestNACKingViewerSendsOnlyNACKs: a NewNACKingAPI viewer asks for the
// skipped packets and sends nothing else — no reports, no TWCC — even once
// Pion's report interval (1 s) has passed, which the control viewer on the
// default API shows by sending receiver reports on the same link.
func TestNACKingViewerSendsOnlyNACKs(t *testing.T) {
	api, err := NewNACKingAPI()
	if err != nil {
		t.Fatal(err)
	}
	m, s, err := engines()
	if err != nil {
		t.Fatal(err)
	}
	_, ns, offer := connect(t, api)
	_, cs, _ := connect(t, webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s)))
	if strings.Contains(offer, "transport-cc") {
		t.Fatalf("a NACKing viewer offers TWCC:\n%s", offer)
	}
	sendGappy(t, []*sender{ns, cs}, func() bool { return ns.tally.get()["nack"] > 0 && cs.tally.get()["rr"] > 0 })
	got := ns.tally.get()
	if len(got) != 1 {
		t.Fatalf("a NACKing viewer sent RTCP %v, want NACKs only (control: %v)", got, cs.tally.get())
	}
}

// sendGappy writes VP8 packets to every sender, skipping every 5th
// sequence number, at about 1000 packets/s until done holds (10 s at most).
func sendGappy(t *testing.T, to []*sender, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	seq := uint16(0)
	payload := []byte{0x10, 0, 0x9d, 0x01, 0x2a, 0, 0, 0, 0} // VP8 keyframe start, no stamp
	for !done() {
		if time.Now().After(deadline) {
			var seen []map[string]int
			for _, s := range to {
				seen = append(seen, s.tally.get())
			}
			t.Fatalf("the expected RTCP never came (seen %v): the test cannot tell", seen)
		}
		for i := 0; i < 10; i++ {
			seq++
			if seq%5 == 0 {
				continue
			}
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: PayloadVP8, SequenceNumber: seq, Timestamp: uint32(seq) * 3000}, Payload: payload}
			for _, s := range to {
				_ = s.track.WriteRTP(pkt)
			}
		}
		time.Sleep(10 * time.Millisecond) // pace: ~1000 pkt/s
	}
}
