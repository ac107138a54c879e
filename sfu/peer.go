package sfu

import (
	"context"
	"fmt"
	"sync"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// Peer is one server-side peer connection (a publisher or a subscriber).
//
// A peer owns the goroutines it starts (track readers, RTCP readers, a
// viewer's writer) in wg; Close waits for all of them, so a closed peer
// leaves nothing running.
type Peer struct {
	s    *SFU
	pc   *webrtc.PeerConnection
	done chan struct{}
	wg   sync.WaitGroup

	once    sync.Once
	onClose func() // detaches the peer from its room; runs once, before wg.Wait

	mu       sync.Mutex
	closing  bool     // no goroutine may enter wg once set
	finished bool     // Close has returned (done is closed)
	after    []func() // AfterClose's, run once finished

	viewer *viewer  // a subscribe connection's viewer (SetQuality); nil for publishers
	own    *ownConn // the viewer's own transport (viewerconn.go); pc is nil then

	// onConnected runs (on a Pion goroutine) each time the connection
	// becomes connected — Pion reports that after DTLS, once SRTP is
	// ready, so writes go out; set before the offer is applied.
	onConnected func()
}

func (s *SFU) newPeer(api *webrtc.API) (*Peer, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("sfu: new peer connection: %w", err)
	}
	p := &Peer{s: s, pc: pc, done: make(chan struct{})}
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected && p.onConnected != nil {
			p.onConnected()
		}
		if st == webrtc.PeerConnectionStateFailed || st == webrtc.PeerConnectionStateClosed {
			p.closeAsync()
		}
	})
	return p, nil
}

// AddCandidate adds a remote ICE candidate trickled by the client.
func (p *Peer) AddCandidate(c webrtc.ICECandidateInit) error {
	if p.pc == nil {
		return nil // the own transport learns addresses from the viewer's checks
	}
	if err := p.pc.AddICECandidate(c); err != nil {
		return fmt.Errorf("%w: candidate: %v", ErrBadSDP, err)
	}
	return nil
}

// Close tears the peer connection down; safe to call more than once. It
// returns once every goroutine of the peer has exited. It must not be called
// from one of the peer's own goroutines (they use closeAsync).
func (p *Peer) Close() error {
	p.once.Do(func() {
		p.mu.Lock()
		p.closing = true
		onClose := p.onClose
		p.mu.Unlock()
		if onClose != nil {
			onClose()
		}
		if p.pc != nil {
			_ = p.pc.GracefulClose()
		}
		if p.own != nil && p.own.tr != nil {
			_ = p.own.tr.Close()
		}
		p.wg.Wait()
		close(p.done)
		p.mu.Lock()
		p.finished = true
		after := p.after
		p.after = nil
		p.mu.Unlock()
		for _, f := range after {
			f()
		}
	})
	<-p.done
	return nil
}

// closeAsync closes the peer on a background goroutine the SFU waits for;
// used from callbacks and under the room lock, where Close would deadlock.
func (p *Peer) closeAsync() {
	p.mu.Lock()
	closing := p.closing
	p.mu.Unlock()
	if closing {
		return // Close is under way (its own state change calls us)
	}
	p.s.goBackground(func() { _ = p.Close() })
}

// AfterClose runs f once the peer is closed — at once when it already is,
// else on the goroutine that closes it — so that waiting for a close costs
// no goroutine per connection. f must not block or close peers.
func (p *Peer) AfterClose(f func()) {
	p.mu.Lock()
	if !p.finished {
		p.after = append(p.after, f)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	f()
}

// Done is closed once the peer connection is closed (by either side).
func (p *Peer) Done() <-chan struct{} { return p.done }

// enter registers a goroutine the peer owns (Pion's OnTrack goroutine, for
// instance); false once the peer is closing.
func (p *Peer) enter() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return false
	}
	p.wg.Add(1)
	return true
}

func (p *Peer) exit() { p.wg.Done() }

// setOnClose sets what Close runs first to detach the peer from its room;
// false if the peer is already closing (the caller must not register it).
func (p *Peer) setOnClose(f func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return false
	}
	p.onClose = f
	return true
}

// goOwned runs f on a goroutine the peer owns.
func (p *Peer) goOwned(f func()) {
	if !p.enter() {
		return
	}
	go func() {
		defer p.exit()
		f()
	}()
}

// answer applies the offer, creates the answer and waits until ICE gathering
// is complete so the answer carries every candidate (the server does not
// trickle).
func (p *Peer) answer(ctx context.Context) (string, error) {
	ans, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(ans); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.s.cfg.GatherTimeout)
	defer cancel()
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", fmt.Errorf("sfu: ICE gathering did not complete in %v", p.s.cfg.GatherTimeout)
	}
	return p.pc.LocalDescription().SDP, nil
}

// writeRTCP sends RTCP to the peer: through Pion, or for a viewer on the
// own transport the way its media goes (egress_own.go).
func (p *Peer) writeRTCP(pkts []rtcp.Packet) error {
	if p.pc == nil {
		return p.viewer.eg.writeRTCP(pkts, p.own.tr.Send)
	}
	return p.pc.WriteRTCP(pkts)
}
