package nettest

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatsfu/seatsfu/internal/impair"
	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/sfu"
)

// Per-viewer adaptation (PROTOCOL.md §9), end to end: three simulcast
// publishers on seats 0–2, one viewer whose downlink the impairment relay
// caps at 1 Mbit/s and one uncapped. The capped viewer's transport-wide
// feedback shows the congestion, its estimate falls, and the allocator
// moves its slots to lower layers — seat 0 first in line — while its audio
// keeps flowing; the uncapped viewer stays on high. When the cap lifts the
// capped viewer climbs back to high.

// The cap: 1 Mbit/s with a queue of half a second of it (race_test.go
// scales it down with the publishers' bitrates).
var (
	adaptCapBps     int64 = 1_000_000
	adaptQueueBytes       = 64 << 10
)

// adaptViewer records, per seat, when each video packet of which layer and
// each audio packet arrived.
type adaptViewer struct {
	pc    *webrtc.PeerConnection
	peer  *sfu.Peer
	mu    sync.Mutex
	video map[int][]layerAt
	audio map[int][]time.Time
	wg    sync.WaitGroup
}

type layerAt struct {
	at    time.Time
	layer int
}

func startAdaptViewer(t *testing.T, r *sfu.Room, user string, l leg) (*adaptViewer, *impair.Relay) {
	return startAdaptViewerWith(t, r, user, l, adaptClient{twcc: true})
}

// adaptClient is what an adaptViewer negotiates.
type adaptClient struct {
	twcc, rtx bool
	opts      []sfu.PeerOption
}

func startAdaptViewerWith(t *testing.T, r *sfu.Room, user string, l leg, c adaptClient) (*adaptViewer, *impair.Relay) {
	t.Helper()
	me := &webrtc.MediaEngine{}
	codecs := []struct {
		p webrtc.RTPCodecParameters
		k webrtc.RTPCodecType
	}{
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}, webrtc.RTPCodecTypeAudio},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack", Parameter: "pli"}}}, PayloadType: 96}, webrtc.RTPCodecTypeVideo},
	}
	if c.rtx {
		codecs = append(codecs, struct {
			p webrtc.RTPCodecParameters
			k webrtc.RTPCodecType
		}{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=96"}, PayloadType: 97}, webrtc.RTPCodecTypeVideo})
	}
	for _, c := range codecs {
		if err := me.RegisterCodec(c.p, c.k); err != nil {
			t.Fatal(err)
		}
	}
	ir := &interceptor.Registry{}
	// What a browser does: transport-wide feedback for every packet.
	if c.twcc {
		if err := webrtc.ConfigureTWCCSender(me, ir); err != nil {
			t.Fatal(err)
		}
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(ir)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	v := &adaptViewer{pc: pc, video: map[int][]layerAt{}, audio: map[int][]time.Time{}}
	for range 3 {
		for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
			if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
				t.Fatal(err)
			}
		}
	}
	seatOf := map[string]int{}
	var seatMu sync.Mutex
	pc.OnTrack(func(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		v.wg.Add(1)
		defer v.wg.Done()
		mid := ""
		for _, x := range pc.GetTransceivers() {
			if x.Receiver() == recv {
				mid = x.Mid()
			}
		}
		seatMu.Lock()
		seatIdx, ok := seatOf[mid]
		seatMu.Unlock()
		if !ok {
			return
		}
		video := tr.Kind() == webrtc.RTPCodecTypeVideo
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			now := time.Now()
			v.mu.Lock()
			if video && len(pkt.Payload) >= 6 {
				v.video[seatIdx] = append(v.video[seatIdx], layerAt{at: now, layer: int(binary.BigEndian.Uint32(pkt.Payload[2:]) >> 28)})
			} else if !video {
				v.audio[seatIdx] = append(v.audio[seatIdx], now)
			}
			v.mu.Unlock()
		}
	})
	peer, answer, slots, err := r.Subscribe(user, offerFor(t, pc, l), 0, c.opts...)
	if err != nil {
		t.Fatal(err)
	}
	seatMu.Lock()
	for _, s := range slots {
		seatOf[s.Mid] = s.SeatIndex
	}
	seatMu.Unlock()
	v.peer = peer
	relay := connect(t, pc, answer, l)
	t.Cleanup(func() {
		_ = pc.Close()
		v.wg.Wait()
	})
	return v, relay
}

// layersSince is the layers seat k's video arrived on since from, in order
// of arrival, with when each run of one layer began.
func (v *adaptViewer) layersSince(k int, from time.Time) []layerAt {
	v.mu.Lock()
	defer v.mu.Unlock()
	var runs []layerAt
	for _, p := range v.video[k] {
		if p.at.Before(from) {
			continue
		}
		if len(runs) == 0 || runs[len(runs)-1].layer != p.layer {
			runs = append(runs, p)
		}
	}
	return runs
}

// runsString shows layer runs as "high@+0.0s medium@+1.2s …" from t0.
func runsString(runs []layerAt, t0 time.Time) string {
	out := ""
	for _, r := range runs {
		out += fmt.Sprintf("%s@%+.1fs ", [3]string{"low", "medium", "high"}[r.layer], r.at.Sub(t0).Seconds())
	}
	return out
}

// lastLayer is the layer of seat k's latest video packet and when it came.
func (v *adaptViewer) lastLayer(k int) (int, time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	ps := v.video[k]
	if len(ps) == 0 {
		return -1, time.Time{}
	}
	return ps[len(ps)-1].layer, ps[len(ps)-1].at
}

// longestGap is the longest time between two packets (or from the window's
// edges) in [from, to] of ts.
func longestGap(ts []time.Time, from, to time.Time) time.Duration {
	prev, gap := from, time.Duration(0)
	for _, at := range ts {
		if at.Before(from) || at.After(to) {
			continue
		}
		gap = max(gap, at.Sub(prev))
		prev = at
	}
	return max(gap, to.Sub(prev))
}

func (v *adaptViewer) audioGap(k int, from, to time.Time) time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	return longestGap(v.audio[k], from, to)
}

// freezes counts the gaps over 500 ms between seat k's video packets in
// [from, to].
func (v *adaptViewer) freezes(k int, from, to time.Time) (n int, where string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	prev := from
	for _, p := range v.video[k] {
		if p.at.Before(from) || p.at.After(to) {
			continue
		}
		if d := p.at.Sub(prev); d > 500*time.Millisecond {
			n++
			where += fmt.Sprintf("%v at %+.1fs ", d.Round(time.Millisecond), prev.Sub(from).Seconds())
		}
		prev = p.at
	}
	return n, where
}

// adaptRoom is a room of three seats, each with a simulcast publisher, on
// an SFU of cfg.
func adaptRoom(t *testing.T, cfg sfu.Config) (*sfu.Room, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.ListenIP, cfg.IncludeLoopback, cfg.Registerer = "127.0.0.1", true, reg
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	if os.Getenv("PROBE_DEBUG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := sfu.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	r, err := s.OpenRoom(sfu.RoomConfig{Notifier: nopNotifier{}, Seat: seat.Config{
		RoomID: "adapt", MaxSeats: 3, Mode: seat.ModeFree, Clock: realClock{}, Grace: 10 * time.Second,
		Owner: seat.User{UserID: "owner", Name: "Owner", Role: seat.RoleOwner},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range []string{"g1", "g2"} {
		if err := r.Do(func(sr *seat.Room) ([]seat.Delivery, error) {
			_, ds, err := sr.Join(seat.User{UserID: u, Name: u, Role: seat.RoleAudience})
			if err != nil {
				return nil, err
			}
			_, more, err := sr.Take(u, i+1)
			return append(ds, more...), err
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"owner", "g1", "g2"} {
		startSimPublisher(t, r, u)
	}
	return r, reg
}

func TestCappedViewerSettlesOnLowerLayersAndRecovers(t *testing.T) {
	r, _ := adaptRoom(t, sfu.Config{})
	free, _ := startAdaptViewer(t, r, "free", direct)
	// The capped viewer is a browser's: RTX too, so it is probed.
	capped, relay := startAdaptViewerWith(t, r, "capped", leg{down: &impair.Config{}}, adaptClient{twcc: true, rtx: true})
	for _, v := range []*adaptViewer{free, capped} {
		for k := range 3 {
			eventually(t, 10*time.Second, "every seat on high", func() bool { l, _ := v.lastLayer(k); return l == 2 })
		}
	}

	capAt := time.Now()
	if err := relay.SetConfig(impair.TargetToClient, impair.Config{RateBps: adaptCapBps, QueueBytes: adaptQueueBytes}); err != nil {
		t.Fatal(err)
	}
	settled := capAt.Add(5 * time.Second)
	time.Sleep(time.Until(settled.Add(3 * time.Second))) // and three seconds on whatever it settled on
	end := time.Now()
	for k := range 3 {
		for _, run := range capped.layersSince(k, settled) {
			if run.layer == 2 {
				t.Errorf("capped viewer: seat %d on high at %v after the cap (runs since 5 s: %v)", k, run.at.Sub(capAt), capped.layersSince(k, settled))
			}
		}
		// Audio comes first: it never stops. The uncapped viewer is the
		// control: a stall of the whole box (publishers included) shows in
		// both, a stop the cap caused only in the capped one. A stop is
		// what the issue calls a freeze for video: over 500 ms more than
		// the control. Shorter gaps do happen and are not hidden by this:
		// the link is a FIFO, so while the estimate falls, and when a layer
		// switch's keyframe crosses it, audio waits behind video (238–254
		// ms once in 11 quiet full-suite runs, logged below in every run).
		// Pacing video to the estimate with audio first would shorten them.
		control := free.audioGap(k, capAt.Add(2*time.Second), end)
		if gap := capped.audioGap(k, capAt.Add(2*time.Second), end); gap > control+500*time.Millisecond {
			t.Errorf("capped viewer: seat %d audio stopped for %v (uncapped: %v)", k, gap, control)
		}
		if runs := free.layersSince(k, capAt); len(runs) != 1 || runs[0].layer != 2 {
			t.Errorf("uncapped viewer: seat %d left high: %v", k, runs)
		}
	}
	if n, where := capped.freezes(0, capAt, end); n > 1 {
		t.Errorf("capped viewer: seat 0 froze %d times: %s", n, where)
	}
	if l, at := capped.lastLayer(0); l < 0 || time.Since(at) > time.Second {
		t.Errorf("capped viewer: seat 0 shows no video (last layer %d, %v ago)", l, time.Since(at))
	}
	for k := range 3 {
		t.Logf("seat %d: capped viewer's layers after the cap %s; longest audio gaps capped %v, uncapped %v", k,
			runsString(capped.layersSince(k, capAt), capAt), capped.audioGap(k, capAt.Add(2*time.Second), end).Round(time.Millisecond),
			free.audioGap(k, capAt, end).Round(time.Millisecond))
	}

	// The cap lifts: back to high within 10 s.
	liftAt := time.Now()
	if err := relay.SetConfig(impair.TargetToClient, impair.Config{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the capped viewer's seat 0 back on high", func() bool {
		l, at := capped.lastLayer(0)
		return l == 2 && at.After(liftAt)
	})
	t.Logf("seat 0 back on high %v after the cap lifted", time.Since(liftAt).Round(100*time.Millisecond))
	if runs := free.layersSince(0, capAt); len(runs) != 1 {
		t.Errorf("uncapped viewer: seat 0 runs %v", runs)
	}
}
