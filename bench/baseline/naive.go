package baseline

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// Naive is the Pion-tutorial forwarder: every publisher track is copied into
// a TrackLocalStaticRTP, and every viewer gets its own peer connection with
// those tracks added, default interceptors included.
type Naive struct {
	api *webrtc.API
	log *slog.Logger

	mu      sync.Mutex
	tracks  []*webrtc.TrackLocalStaticRTP
	pcs     []*webrtc.PeerConnection
	closed  bool
	wg      sync.WaitGroup
	changed chan struct{} // closed and replaced whenever tracks grows
}

// NewNaive builds the forwarder.
func NewNaive(log *slog.Logger) (*Naive, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		return nil, err
	}
	var s webrtc.SettingEngine
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetIncludeLoopbackCandidate(true)
	s.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(s))
	return &Naive{api: api, log: log, changed: make(chan struct{})}, nil
}

func (n *Naive) add(pc *webrtc.PeerConnection) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return errors.New("baseline: closed")
	}
	n.pcs = append(n.pcs, pc)
	return nil
}

// Publish accepts one publisher; its tracks are forwarded to every viewer
// that subscribes afterwards.
func (n *Naive) Publish(offer string) (string, error) {
	pc, err := n.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return "", err
	}
	if err := n.add(pc); err != nil {
		_ = pc.Close()
		return "", err
	}
	pc.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		local, err := webrtc.NewTrackLocalStaticRTP(remote.Codec().RTPCodecCapability, remote.ID(), remote.StreamID())
		if err != nil {
			n.log.Warn("naive: local track", "err", err)
			return
		}
		n.mu.Lock()
		if n.closed {
			n.mu.Unlock()
			return
		}
		n.tracks = append(n.tracks, local)
		close(n.changed)
		n.changed = make(chan struct{})
		n.wg.Add(1)
		n.mu.Unlock()
		go func() {
			defer n.wg.Done()
			buf := make([]byte, 1500)
			for {
				k, _, err := remote.Read(buf)
				if err != nil {
					return
				}
				_, _ = local.Write(buf[:k])
			}
		}()
	})
	return answer(pc, offer)
}

// Subscribe answers a viewer's offer with every published track, once at
// least want tracks are published (or 5 s passed).
func (n *Naive) Subscribe(body []byte, want int) ([]byte, string, error) {
	if err := n.waitTracks(want, 5*time.Second); err != nil {
		return nil, "", err
	}
	pc, err := n.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, "", err
	}
	if err := n.add(pc); err != nil {
		_ = pc.Close()
		return nil, "", err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(body)}); err != nil {
		return nil, "", fmt.Errorf("baseline: viewer offer: %w", err)
	}
	n.mu.Lock()
	tracks := append([]*webrtc.TrackLocalStaticRTP(nil), n.tracks...)
	n.mu.Unlock()
	for _, t := range tracks {
		sender, err := pc.AddTrack(t)
		if err != nil {
			return nil, "", fmt.Errorf("baseline: add track: %w", err)
		}
		// Reading RTCP is what makes the interceptors (NACK responder,
		// reports) run: the tutorial does it, so do we.
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			buf := make([]byte, 1500)
			for {
				if _, _, err := sender.Read(buf); err != nil {
					return
				}
			}
		}()
	}
	ans, err := pcAnswer(pc)
	if err != nil {
		return nil, "", err
	}
	return []byte(ans), "application/sdp", nil
}

func (n *Naive) waitTracks(want int, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		n.mu.Lock()
		have, ch := len(n.tracks), n.changed
		n.mu.Unlock()
		if have >= max(want, 1) {
			return nil
		}
		select {
		case <-ch:
		case <-deadline:
			return fmt.Errorf("baseline: %d of %d tracks published after %v", have, want, timeout)
		}
	}
}

// Close ends every connection and waits for the forwarding goroutines.
func (n *Naive) Close() error {
	n.mu.Lock()
	n.closed = true
	pcs := n.pcs
	n.pcs = nil
	n.mu.Unlock()
	for _, pc := range pcs {
		_ = pc.Close()
	}
	n.wg.Wait()
	return nil
}
