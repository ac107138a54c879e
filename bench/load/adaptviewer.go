package load

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/internal/impair"
	"github.com/seatsfu/seatsfu/signal/client"
)

// adaptViewer is a viewer of the adapt scenario: a Pion peer that sends
// transport-wide feedback (as browsers do, so the server can estimate its
// downlink), behind an impairment relay whose target→client direction is
// capped at capBps (0: not capped). It records every video packet's
// arrival, layer and size per seat, and every audio packet's arrival.
type adaptViewer struct {
	name   string
	capBps int64
	pc     *webrtc.PeerConnection
	c      *client.Client
	relay  *impair.Relay
	wg     sync.WaitGroup

	mu    sync.Mutex
	video map[int][]rxAt
	audio map[int][]time.Time
}

type rxAt struct {
	at    time.Time
	layer int
	bytes int
}

// adaptQueue is how much the capped link holds: ~250 ms at 2 Mbit/s, what
// a phone's radio queue is like.
const adaptQueue = 64 << 10

func viewerAPI() (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		PayloadType: 111}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
		RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}}}, PayloadType: 96}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, err
	}
	// RTX, as every browser offers it: the server probes the downlink with
	// RTX padding (PROTOCOL.md §9).
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000,
		SDPFmtpLine: "apt=96"}, PayloadType: 97}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.ConfigureTWCCSender(me, ir); err != nil {
		return nil, err
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(loopbackEngine()), webrtc.WithInterceptorRegistry(ir)), nil
}

// newAdaptViewer joins t's room as name and subscribes to seats seats
// through a relay capped at capBps.
func newAdaptViewer(ctx context.Context, t *SeatsfuTarget, api *webrtc.API, name string, seats int, capBps int64) (*adaptViewer, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	v := &adaptViewer{name: name, capBps: capBps, pc: pc, video: map[int][]rxAt{}, audio: map[int][]time.Time{}}
	fail := func(err error) (*adaptViewer, error) {
		_ = v.Close()
		return nil, fmt.Errorf("load: adapt viewer %s: %w", name, err)
	}
	for range seats {
		for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
			if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
				return fail(err)
			}
		}
	}
	var seatMu sync.Mutex
	seatOf := map[string]int{}
	ready := make(chan struct{})
	pc.OnTrack(func(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		v.wg.Add(1)
		defer v.wg.Done()
		<-ready
		mid := ""
		for _, x := range pc.GetTransceivers() {
			if x.Receiver() == recv {
				mid = x.Mid()
			}
		}
		seatMu.Lock()
		seat, ok := seatOf[mid]
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
				v.video[seat] = append(v.video[seat], rxAt{at: now, layer: int(binary.BigEndian.Uint32(pkt.Payload[2:]) >> 28), bytes: pkt.MarshalSize()})
			} else if !video {
				v.audio[seat] = append(v.audio[seat], now)
			}
			v.mu.Unlock()
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return fail(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return fail(err)
	}
	<-gathered
	if v.c, err = t.dial(ctx, name, "audience"); err != nil {
		return fail(err)
	}
	if _, err := v.c.Join(ctx, nil); err != nil {
		return fail(err)
	}
	// Without our candidates the server can only reach us through the
	// relay (peer-reflexive from the relay's address).
	answer, slots, err := v.c.Subscribe(ctx, impair.StripCandidates(pc.LocalDescription().SDP))
	if err != nil {
		return fail(err)
	}
	seatMu.Lock()
	for _, s := range slots {
		if s.CohostIndex == 0 {
			seatOf[s.Mid] = s.SeatIndex
		}
	}
	seatMu.Unlock()
	close(ready)
	target, ok := impair.HostCandidate(answer)
	if !ok {
		return fail(errors.New("answer without a host candidate"))
	}
	if v.relay, err = impair.New(target, impair.Config{}, impair.Config{}); err != nil {
		return fail(err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: impair.RewriteCandidates(answer, v.relay.Addr())}); err != nil {
		return fail(err)
	}
	for pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := v.setCap(capBps); err != nil {
		return fail(err)
	}
	return v, nil
}

// setCap caps the viewer's downlink at bps (0: lifts the cap).
func (v *adaptViewer) setCap(bps int64) error {
	return v.relay.SetConfig(impair.TargetToClient, impair.Config{Seed: 1, RateBps: bps, QueueBytes: adaptQueue})
}

// Close ends the peer, the signalling and the relay.
func (v *adaptViewer) Close() error {
	var errs []error
	errs = append(errs, v.pc.Close())
	v.wg.Wait()
	if v.c != nil {
		errs = append(errs, v.c.Close())
	}
	if v.relay != nil {
		errs = append(errs, v.relay.Close())
	}
	return errors.Join(errs...)
}

// ViewerAdapt is what one viewer of the adapt scenario received over the
// measured window.
type ViewerAdapt struct {
	Name    string  `json:"name"`
	CapMbps float64 `json:"capMbps"` // 0: uncapped
	// RecvMbps is the video and audio the viewer received, per second.
	RecvMbps float64 `json:"recvMbps"`
	// Shares is, per seat, the share of the window each layer was the
	// one arriving ([low, medium, high, none]; none: no video within
	// 500 ms).
	Shares [][4]float64 `json:"shares"`
	// Freezes is, per seat, the gaps of more than 500 ms between two
	// video packets; AudioGapMs the longest gap in any seat's audio.
	Freezes    []int   `json:"freezes"`
	AudioGapMs float64 `json:"audioGapMs"`
}

// freezeGap is what counts as a freeze: no frame for longer.
const freezeGap = 500 * time.Millisecond

// tally reads what v received between from and to, for seats seats.
func (v *adaptViewer) tally(seats int, from, to time.Time) ViewerAdapt {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := ViewerAdapt{Name: v.name, CapMbps: float64(v.capBps) / 1e6}
	secs := to.Sub(from).Seconds()
	var bytes int
	for seat := range seats {
		var in []rxAt
		for _, p := range v.video[seat] {
			if !p.at.Before(from) && p.at.Before(to) {
				in = append(in, p)
				bytes += p.bytes
			}
		}
		out.Shares = append(out.Shares, layerShares(in, from, to))
		n, last := 0, from
		for _, p := range in {
			if p.at.Sub(last) > freezeGap {
				n++
			}
			last = p.at
		}
		if to.Sub(last) > freezeGap {
			n++
		}
		out.Freezes = append(out.Freezes, n)
		last = from
		var gap time.Duration
		for _, at := range v.audio[seat] {
			if !at.Before(from) && at.Before(to) {
				gap = max(gap, at.Sub(last))
				last = at
				bytes += 5 + 12
			}
		}
		out.AudioGapMs = max(out.AudioGapMs, float64(max(gap, to.Sub(last)))/float64(time.Millisecond))
	}
	out.RecvMbps = float64(bytes) * 8 / secs / 1e6
	return out
}

// layerShares splits [from, to) into 100 ms steps and counts, per step,
// the layer of the last video packet that arrived at most 500 ms before
// its end (none when there is no such packet).
func layerShares(in []rxAt, from, to time.Time) [4]float64 {
	const step = 100 * time.Millisecond
	var count [4]float64
	total := 0.0
	i := 0
	layer, at := -1, time.Time{}
	for t := from.Add(step); !t.After(to); t = t.Add(step) {
		for i < len(in) && in[i].at.Before(t) {
			layer, at = in[i].layer, in[i].at
			i++
		}
		if layer >= 0 && layer < numSimLayers && t.Sub(at) <= freezeGap {
			count[layer]++
		} else {
			count[3]++
		}
		total++
	}
	if total > 0 {
		for k := range count {
			count[k] /= total
		}
	}
	return count
}
