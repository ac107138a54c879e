package nettest

import (
	"encoding/binary"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/seatsfu/seatsfu/internal/impair"
	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/sfu"
)

// rawTrack is a video track whose writer takes whole RTP packets as bytes,
// so a hostile publisher can send what a well-behaved encoder never would.
// Pion's SRTP layer still has to parse the header to encrypt it: what
// pion/rtp cannot parse never leaves (those classes come from the relay).
type rawTrack struct {
	mu   sync.Mutex
	w    webrtc.TrackLocalWriter
	ssrc uint32
}

func (t *rawTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, webrtc.MimeTypeVP8) {
			t.mu.Lock()
			t.w, t.ssrc = ctx.WriteStream(), uint32(ctx.SSRC())
			t.mu.Unlock()
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}
func (t *rawTrack) Unbind(webrtc.TrackLocalContext) error { return nil }
func (t *rawTrack) ID() string                            { return "evil-video" }
func (t *rawTrack) RID() string                           { return "" }
func (t *rawTrack) StreamID() string                      { return "evil" }
func (t *rawTrack) Kind() webrtc.RTPCodecType             { return webrtc.RTPCodecTypeVideo }

func (t *rawTrack) write(b []byte) {
	t.mu.Lock()
	w := t.w
	t.mu.Unlock()
	if w != nil {
		_, _ = w.Write(b)
	}
}

// hostileRTP builds the i-th packet of the hostile publisher's mix: valid
// VP8 now and then (so its seat has a stream), and otherwise padding longer
// than the payload, a payload that is all padding, a full CSRC list, header
// extensions, wild sequence jumps, a foreign SSRC and a wrong payload type.
func hostileRTP(i int, ssrc uint32) []byte {
	seq := uint16(i)
	h := make([]byte, 12, 200)
	h[0], h[1] = 0x80, 96
	binary.BigEndian.PutUint16(h[2:], seq)
	binary.BigEndian.PutUint32(h[4:], uint32(i)*900)
	binary.BigEndian.PutUint32(h[8:], ssrc)
	vp8 := []byte{0x10, 0x01, 0xee, 0xee}
	switch i % 8 {
	case 0: // a valid keyframe
		return append(h, 0x10, 0x00, 0xee, 0xee)
	case 1: // padding longer than the payload
		h[0] |= 0x20
		return append(h, 0x10, 0x01, 0xee, 250)
	case 2: // nothing but padding
		h[0] |= 0x20
		return append(h, 0, 0, 0, 4)
	case 3: // fifteen CSRCs
		h[0] |= 0x0f
		for c := 0; c < 15; c++ {
			h = binary.BigEndian.AppendUint32(h, uint32(c))
		}
		return append(h, vp8...)
	case 4: // a one-byte header extension with junk elements
		h[0] |= 0x10
		h = append(h, 0xbe, 0xde, 0, 2, 0x1f, 0xff, 0xff, 0x00, 0x22, 1, 2, 3)
		return append(h, vp8...)
	case 5: // a sequence number half the space away
		binary.BigEndian.PutUint16(h[2:], seq+32768)
		return append(h, vp8...)
	case 6: // an SSRC nobody negotiated
		binary.BigEndian.PutUint32(h[8:], 0xdeadbeef)
		return append(h, vp8...)
	default: // a payload type not in the session
		h[1] = 13
		return append(h, vp8...)
	}
}

// hostileRTCP is the i-th compound a hostile viewer sends about its slot's
// SSRC: PLI storms, NACKs of thousands of sequence numbers, reports with
// absurd values, and RTCP whose length fields and counts lie.
func hostileRTCP(i int, ssrc uint32) []rtcp.Packet {
	many := make([]rtcp.NackPair, 250)
	for j := range many {
		many[j] = rtcp.NackPair{PacketID: uint16(i*1000 + j*17), LostPackets: 0xffff}
	}
	bad := []byte{0x81, 205, 0x7f, 0xff, 0, 0, 0, 1} // generic NACK claiming 128 KiB
	bad = binary.BigEndian.AppendUint32(bad, ssrc)
	twcc := []byte{0x8f, 205, 0, 4, 0, 0, 0, 1} // TWCC: 65 535 statuses in 8 bytes
	twcc = binary.BigEndian.AppendUint32(twcc, ssrc)
	twcc = append(twcc, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 0)
	switch i % 5 {
	case 0:
		return []rtcp.Packet{&rtcp.PictureLossIndication{SenderSSRC: 1, MediaSSRC: ssrc}, &rtcp.FullIntraRequest{FIR: []rtcp.FIREntry{{SSRC: ssrc}}}}
	case 1:
		return []rtcp.Packet{&rtcp.TransportLayerNack{SenderSSRC: 1, MediaSSRC: ssrc, Nacks: many}}
	case 2:
		return []rtcp.Packet{&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: ssrc, FractionLost: 255,
			TotalLost: 0xffffff, LastSequenceNumber: 0xffffffff, Jitter: 0xffffffff, LastSenderReport: 0xffffffff, Delay: 0xffffffff}}}}
	case 3:
		rp := rtcp.RawPacket(bad)
		return []rtcp.Packet{&rp}
	default:
		rp := rtcp.RawPacket(twcc)
		return []rtcp.Packet{&rp}
	}
}

// hostility damages what a hostile client sends through its relay: SRTP and
// SRTCP authentication failures (corrupted bytes), truncated datagrams, and
// replays of earlier datagrams of the live session, some long after.
var hostility = impair.Config{Seed: 66, Corrupt: 0.15, Truncate: 0.05, Duplicate: 0.2, ReplayAfter: 200 * time.Millisecond}

func bareAPI() *webrtc.API { return clientAPI(&interceptor.Registry{}) }

// withoutTransportCC is Pion's default interceptors — NACK generator and
// responder, reports — without transport-wide congestion control feedback.
// The good viewers share a process, and a starved CPU, with the SFU and
// the attackers: the arrival times their feedback reported would carry the
// test's own scheduling delays, and the SFU's downlink estimator would
// rightly pause their video for it (PROTOCOL.md §9; adapt_test.go tests
// that). Without it the SFU forwards everything, which is what is measured.
func withoutTransportCC(t *testing.T) *interceptor.Registry {
	t.Helper()
	ir := &interceptor.Registry{}
	gen, err := nack.NewGeneratorInterceptor()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := nack.NewResponderInterceptor()
	if err != nil {
		t.Fatal(err)
	}
	ir.Add(gen)
	ir.Add(resp)
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		t.Fatal(err)
	}
	return ir
}

// During a live session a hostile publisher (a guest) and hostile viewers
// send every bad-input class at the SFU for two seconds while two good
// viewers watch the owner. The good viewers keep receiving at full rate,
// nothing panics, and once the hostile peers are gone the process is back
// to the goroutines it had before they came.
//
// Which classes reach which code: RTP that pion/rtp cannot parse, corrupted
// and replayed datagrams die in Pion's SRTP layer (auth failure, replay
// window); RTCP that pion/rtcp cannot parse is dropped by Pion's SRTCP demux,
// which parses to route by SSRC. What parses reaches the SFU: padding
// longer than the payload, all-padding payloads, CSRC lists, extensions,
// sequence jumps, foreign SSRCs/payload types (sfu packet.parse, the
// rewriter), PLI/NACK storms and absurd reports (media.Feedback's bounds,
// the keyframe throttle, the viewer's bounded queue). FuzzForward and
// FuzzFeedback cover the same handlers with arbitrary bytes.
func TestHostilePeersDoNotHurtOthers(t *testing.T) {
	_, r, reg := server(t)
	pub, _ := startPublisher(t, r, direct, 2, 50)
	good := []*viewer{}
	for _, name := range []string{"good1", "good2"} {
		v, _ := startViewer(t, r, name, direct, withoutTransportCC(t))
		good = append(good, v)
	}
	for _, v := range good {
		eventually(t, 15*time.Second, "good viewers receiving", func() bool { return v.count() > 50 })
	}
	baseline := goleak.IgnoreCurrent()
	baseN := runtime.NumGoroutine()

	// The hostile guest takes seat 1 and publishes through a damaging relay.
	if err := r.Do(func(sr *seat.Room) ([]seat.Delivery, error) {
		_, ds, err := sr.Join(seat.User{UserID: "evil", Name: "evil", Role: seat.RoleAudience})
		if err != nil {
			return nil, err
		}
		_, more, err := sr.Take("evil", 1)
		return append(ds, more...), err
	}); err != nil {
		t.Fatal(err)
	}
	evilPub, err := bareAPI().NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	raw := &rawTrack{}
	if _, err := evilPub.AddTransceiverFromTrack(raw, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	hostileLeg := leg{up: &hostility, down: &impair.Config{}}
	_, answer, err := r.Publish("evil", offerFor(t, evilPub, hostileLeg))
	if err != nil {
		t.Fatal(err)
	}
	pubRelay := connect(t, evilPub, answer, hostileLeg)

	// Hostile viewers: one storms RTCP through a damaging relay, one never
	// reads anything.
	stormer, stormRelay := startViewerSilent(t, r, "stormer", hostileLeg)
	deaf, _ := startViewerSilent(t, r, "deaf", direct)
	for _, pc := range []*webrtc.PeerConnection{evilPub, stormer, deaf} {
		eventually(t, 15*time.Second, "hostile peers connected", func() bool { return pc.ConnectionState() == webrtc.PeerConnectionStateConnected })
	}
	var stormSSRC uint32
	for _, tr := range stormer.GetTransceivers() {
		if tr.Kind() != webrtc.RTPCodecTypeVideo || tr.Receiver() == nil {
			continue
		}
		if ts := tr.Receiver().Tracks(); len(ts) > 0 {
			stormSSRC = uint32(ts[0].SSRC())
		}
	}
	if stormSSRC == 0 {
		t.Fatal("the stormer's video slot has no SSRC")
	}

	// Two seconds of attack. The good viewers are measured by the frames
	// the owner sent during it, which they must all receive: counting what
	// had arrived when the attack stopped would measure how far a starved
	// test process lagged behind the sockets, not what the SFU delivered.
	first := pub.frames.Load() + 1
	nacksBefore, plisBefore := metric(t, reg, "seatsfu_nacks_received_total"), pub.plis.Load()
	start := time.Now()
	var sent, storms int
	for time.Since(start) < 2*time.Second {
		for k := 0; k < 4; k++ {
			raw.write(hostileRTP(sent, raw.ssrc))
			sent++
		}
		_ = stormer.WriteRTCP(hostileRTCP(storms, stormSSRC))
		storms++
		time.Sleep(2 * time.Millisecond) // attack pacing, not a wait for a result
	}
	last := pub.frames.Load()
	want := 2 * int(last-first+1) // 2 video packets per frame
	for i, v := range good {
		var got int
		eventually(t, 10*time.Second, "the good viewers to receive ≥ 95 % of the frames sent during the attack", func() bool {
			got = v.framePackets(first, last)
			return got >= want*95/100
		})
		t.Logf("good viewer %d: %d of %d video packets sent during the attack", i, got, want)
	}
	// The storm reached the SFU's handlers, bounded: NACKs counted (at most
	// media.MaxFeedbackNacks per compound), and the owner's encoder asked
	// for a keyframe at most once per 500 ms whatever the PLI rate.
	nacks := metric(t, reg, "seatsfu_nacks_received_total") - nacksBefore
	if nacks == 0 || nacks > float64(storms)*1024 {
		t.Fatalf("%v NACKed sequence numbers counted for %d compounds", nacks, storms)
	}
	elapsed := time.Since(start)
	if plis := pub.plis.Load() - plisBefore; plis > int64(elapsed/(500*time.Millisecond))+2 {
		t.Fatalf("the PLI storm became %d PLIs to the owner in %v", plis, elapsed)
	}
	t.Logf("hostile publisher sent %d packets (relay %+v); stormer sent %d RTCP compounds (relay %+v)",
		sent, pubRelay.Counters(impair.ClientToTarget), storms, stormRelay.Counters(impair.ClientToTarget))

	// The hostile peers leave: the guest loses its seat, the viewers hang
	// up (on a clean path, so their goodbye is not damaged).
	if err := r.Do(func(sr *seat.Room) ([]seat.Delivery, error) { return sr.LeaveSeat("evil") }); err != nil {
		t.Fatal(err)
	}
	for _, relay := range []*impair.Relay{pubRelay, stormRelay} {
		if err := relay.SetConfig(impair.ClientToTarget, impair.Config{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, pc := range []*webrtc.PeerConnection{evilPub, stormer, deaf} {
		_ = pc.Close()
	}
	eventually(t, 15*time.Second, "the server to drop the hostile peers", func() bool { return r.ViewerCount() == 2 })
	_ = pubRelay.Close()
	_ = stormRelay.Close()
	eventually(t, 10*time.Second, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= baseN })
	if err := goleak.Find(baseline); err != nil {
		t.Fatalf("goroutines left after the hostile peers: %v", err)
	}
	// And the good viewers are still being served.
	n := good[0].count()
	eventually(t, 2*time.Second, "good viewers still receiving", func() bool { return good[0].count() > n+20 })
}

// metric reads one unlabelled counter or gauge from the server's registry.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			if g := mf.GetMetric()[0].GetGauge(); g != nil {
				return g.GetValue()
			}
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// startViewerSilent subscribes to seat 0 and then reads nothing at all: no
// RTP, no RTCP (a viewer that never reads).
func startViewerSilent(t *testing.T, r *sfu.Room, user string, l leg) (*webrtc.PeerConnection, *impair.Relay) {
	t.Helper()
	pc, err := bareAPI().NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	_, answer, _, err := r.Subscribe(user, offerFor(t, pc, l), 0)
	if err != nil {
		t.Fatal(err)
	}
	relay := connect(t, pc, answer, l)
	t.Cleanup(func() { _ = pc.Close() })
	return pc, relay
}
