package peer

import (
	"sync"
	"time"
)

// Pacer sends every publisher's frames on schedule from one goroutine: a
// 5 ms tick is finer than Opus's 20 ms and VP8's 33 ms frames, and one
// goroutine for all publishers keeps the generator's own cost flat.
type Pacer struct {
	mu   sync.Mutex
	pubs []*Publisher
	stop chan struct{}
	done chan struct{}
}

// NewPacer starts the pacing goroutine; Stop ends it.
func NewPacer() *Pacer {
	p := &Pacer{stop: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

// Add starts pacing pub.
func (p *Pacer) Add(pub *Publisher) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// A re-added publisher starts on the next tick, not with a burst of
	// the frames it "missed" while out.
	pub.audio.next, pub.video.next = time.Time{}, time.Time{}
	p.pubs = append(p.pubs, pub)
}

// Remove stops pacing pub (it keeps its connection).
func (p *Pacer) Remove(pub *Publisher) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.pubs {
		if x == pub {
			p.pubs = append(p.pubs[:i], p.pubs[i+1:]...)
			return
		}
	}
}

func (p *Pacer) run() {
	defer close(p.done)
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			p.mu.Lock()
			for _, pub := range p.pubs {
				if pub.closed.Load() {
					continue
				}
				pub.audio.sendDue(now)
				pub.video.sendDue(now)
			}
			p.mu.Unlock()
		}
	}
}

// Stop ends pacing and waits for the goroutine.
func (p *Pacer) Stop() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}
