package baseline

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// peers is the bookkeeping both baselines share: the peer connections Close
// ends, the count of published tracks subscribers wait for, and the
// goroutines Close waits for. Embedded, so its mutex also guards what the
// embedding forwarder keeps beside it.
type peers struct {
	mu      sync.Mutex
	pcs     []*webrtc.PeerConnection
	tracks  int
	changed chan struct{} // closed and replaced whenever tracks grows
	closed  bool
	wg      sync.WaitGroup
}

var errClosed = errors.New("baseline: closed")

// add keeps pc for Close; errClosed once closing began.
func (p *peers) add(pc *webrtc.PeerConnection) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errClosed
	}
	p.pcs = append(p.pcs, pc)
	return nil
}

// startTrack counts a newly published track — register runs under the
// mutex first, to record it — wakes waitTracks, and runs forward on a
// goroutine Close waits for. Nothing happens once closing began.
func (p *peers) startTrack(register, forward func()) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	if register != nil {
		register()
	}
	p.tracks++
	if p.changed != nil {
		close(p.changed)
	}
	p.changed = make(chan struct{})
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		forward()
	}()
}

// goOwned runs f on a goroutine Close waits for.
func (p *peers) goOwned(f func()) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
}

// waitTracks returns once at least want (and at least one) tracks are
// published, or fails after timeout.
func (p *peers) waitTracks(want int, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		p.mu.Lock()
		if p.changed == nil {
			p.changed = make(chan struct{})
		}
		have, ch := p.tracks, p.changed
		p.mu.Unlock()
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

// closeAll ends every peer connection and waits for the goroutines.
func (p *peers) closeAll() {
	p.mu.Lock()
	p.closed = true
	pcs := p.pcs
	p.pcs = nil
	p.mu.Unlock()
	for _, pc := range pcs {
		_ = pc.Close()
	}
	p.wg.Wait()
}
