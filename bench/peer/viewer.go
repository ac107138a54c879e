package peer

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/bench/synth"
)

// Viewer is a receive-only Pion peer that never decodes. Its offer holds
// Seats recvonly audio+video pairs (seatsfu's seat slots); each incoming
// track gets one reader goroutine that exits when the connection closes.
type Viewer struct {
	pc   *webrtc.PeerConnection
	sink *Sink
	wg   sync.WaitGroup

	mu           sync.Mutex
	tracks       []*trackRx
	subscribedNs int64
	closed       bool
	early        []webrtc.ICECandidateInit // trickled before the first offer (NewAnsweringViewer)

	// When ICE, then the whole connection (DTLS, so SRTP), first reached
	// connected (CLOCK_MONOTONIC, 0 until then): the join breakdown.
	iceNs, connNs atomic.Int64
}

// watch records when the connection's phases complete.
func (v *Viewer) watch() {
	v.pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		if s == webrtc.ICEConnectionStateConnected {
			v.iceNs.CompareAndSwap(0, synth.MonoNow())
		}
	})
	v.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			v.connNs.CompareAndSwap(0, synth.MonoNow())
		}
	})
}

// ConnectedNs is when ICE and when the whole connection (DTLS) first
// connected (CLOCK_MONOTONIC; 0 if never).
func (v *Viewer) ConnectedNs() (ice, conn int64) { return v.iceNs.Load(), v.connNs.Load() }

// NewViewer prepares a viewer with seats audio+video slot pairs and returns
// its offer (all candidates included).
func NewViewer(api *webrtc.API, sink *Sink, seats int) (*Viewer, string, error) {
	if seats < 1 {
		return nil, "", errors.New("peer: a viewer needs at least one slot")
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, "", fmt.Errorf("peer: new viewer: %w", err)
	}
	v := &Viewer{pc: pc, sink: sink}
	v.watch()
	for i := 0; i < seats; i++ {
		for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
			if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
				_ = pc.Close()
				return nil, "", fmt.Errorf("peer: viewer transceiver: %w", err)
			}
		}
	}
	pc.OnTrack(v.onTrack)
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		_ = pc.Close()
		return nil, "", fmt.Errorf("peer: viewer offer: %w", err)
	}
	sdp, err := gathered(pc, offer, 5*time.Second)
	if err != nil {
		_ = pc.Close()
		return nil, "", err
	}
	return v, sdp, nil
}

// Accept applies the server's answer. "Subscribed" is timed from here.
func (v *Viewer) Accept(answer string) error {
	v.mu.Lock()
	v.subscribedNs = synth.MonoNow()
	v.mu.Unlock()
	if err := v.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return fmt.Errorf("peer: viewer answer: %w", err)
	}
	return nil
}

// SubscribedNs is when Accept was called (CLOCK_MONOTONIC).
func (v *Viewer) SubscribedNs() int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.subscribedNs
}

func (v *Viewer) onTrack(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	rx := newTrackRx(v.sink, tr.Kind().String(), uint32(tr.SSRC()))
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return
	}
	v.tracks = append(v.tracks, rx)
	v.wg.Add(2)
	v.mu.Unlock()
	// The server's RTCP (sender reports) must be drained: Pion queues it
	// per receiver, and a full queue stalls the connection's SRTP reads —
	// RTP included — for seconds.
	go func() {
		defer v.wg.Done()
		buf := make([]byte, 1500)
		for {
			if _, _, err := recv.Read(buf); err != nil {
				return
			}
		}
	}()
	go func() {
		defer v.wg.Done()
		buf := make([]byte, 1500)
		for {
			n, _, err := tr.Read(buf)
			if err != nil {
				return
			}
			rx.handle(buf[:n], synth.MonoNow())
		}
	}()
}

// Report returns every track's tally so far.
func (v *Viewer) Report() []TrackReport {
	v.mu.Lock()
	tracks := append([]*trackRx(nil), v.tracks...)
	v.mu.Unlock()
	out := make([]TrackReport, 0, len(tracks))
	for _, t := range tracks {
		out = append(out, t.report())
	}
	return out
}

// Close ends the connection and waits for the track readers.
func (v *Viewer) Close() error {
	v.mu.Lock()
	v.closed = true
	v.mu.Unlock()
	err := v.pc.Close()
	v.wg.Wait()
	return err
}

func timeDelta(now, then int64) time.Duration { return time.Duration(now - then) }
