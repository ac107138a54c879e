package baseline

import (
	"fmt"
	"log/slog"
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

	peers
	locals []*webrtc.TrackLocalStaticRTP // guarded by peers.mu
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
	return &Naive{api: api, log: log}, nil
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
		n.startTrack(func() { n.locals = append(n.locals, local) }, func() {
			buf := make([]byte, 1500)
			for {
				k, _, err := remote.Read(buf)
				if err != nil {
					return
				}
				_, _ = local.Write(buf[:k])
			}
		})
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
	tracks := append([]*webrtc.TrackLocalStaticRTP(nil), n.locals...)
	n.mu.Unlock()
	for _, t := range tracks {
		sender, err := pc.AddTrack(t)
		if err != nil {
			return nil, "", fmt.Errorf("baseline: add track: %w", err)
		}
		// Reading RTCP is what makes the interceptors (NACK responder,
		// reports) run: the tutorial does it, so do we.
		n.goOwned(func() {
			buf := make([]byte, 1500)
			for {
				if _, _, err := sender.Read(buf); err != nil {
					return
				}
			}
		})
	}
	ans, err := pcAnswer(pc)
	if err != nil {
		return nil, "", err
	}
	return []byte(ans), "application/sdp", nil
}

// Close ends every connection and waits for the forwarding goroutines.
func (n *Naive) Close() error {
	n.closeAll()
	return nil
}
