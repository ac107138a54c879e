package peer

import (
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/bench/synth"
)

// NewAnsweringViewer prepares a viewer for a server that makes the offers
// (LiveKit's subscriber connection): no transceivers of its own; every
// offer is answered by Answer, and tracks are read as with NewViewer.
func NewAnsweringViewer(api *webrtc.API, sink *Sink) (*Viewer, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("peer: new viewer: %w", err)
	}
	v := &Viewer{pc: pc, sink: sink}
	v.watch()
	pc.OnTrack(v.onTrack)
	return v, nil
}

// Answer applies a server's offer (the first or a renegotiation) and
// returns the answer with every candidate. The first answer starts the
// viewer's "subscribed" clock. Candidates trickled before the first offer
// are applied once it is.
func (v *Viewer) Answer(offer string) (string, error) {
	if err := v.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("peer: viewer offer: %w", err)
	}
	v.mu.Lock()
	if v.subscribedNs == 0 {
		v.subscribedNs = synth.MonoNow()
	}
	early := v.early
	v.early = nil
	v.mu.Unlock()
	for _, c := range early {
		if err := v.pc.AddICECandidate(c); err != nil {
			return "", fmt.Errorf("peer: viewer candidate: %w", err)
		}
	}
	answer, err := v.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("peer: viewer answer: %w", err)
	}
	return gathered(v.pc, answer, 5*time.Second)
}

// AddICECandidate applies a server's trickled candidate, holding it until
// the first offer when it comes early.
func (v *Viewer) AddICECandidate(c webrtc.ICECandidateInit) error {
	v.mu.Lock()
	if v.pc.RemoteDescription() == nil {
		v.early = append(v.early, c)
		v.mu.Unlock()
		return nil
	}
	v.mu.Unlock()
	return v.pc.AddICECandidate(c)
}
