package signal

import (
	"context"
	"sync"
	"time"
)

// pinger pings the peer every PingInterval and drops it when silent (no
// frame, no pong) for PingTimeout — and through enough ping rounds to fill
// it. The rounds are what a pause of this process cannot fake: after a
// stall (GC, a loaded or suspended host) the elapsed time says "silent",
// but one round runs, not the missed ones, so every healthy peer gets its
// pings answered before it is judged.
//
// It runs on a timer, not a goroutine of its own: a round lives on the
// timer's goroutine only while it pings, so an idle session — a viewer,
// for hours — parks no pinger stack (issue 16: a third of the session's
// goroutines). It counts in s.loops from start until it has stopped.
type pinger struct {
	s        *session
	interval time.Duration
	timeout  time.Duration
	rounds   int
	// The rounds' own (one round runs at a time).
	last   int64 // s.heard at the previous round
	missed int   // rounds in a row with nothing heard

	mu      sync.Mutex
	t       *time.Timer
	stopped bool
}

// startPinger starts pinging s; it stops when s.ctx ends or stop is
// called (a hand-over: the relay pings the client from then on).
func startPinger(s *session) *pinger {
	interval, timeout := s.srv.cfg.PingInterval, s.srv.cfg.PingTimeout
	p := &pinger{s: s, interval: interval, timeout: timeout,
		rounds: int((timeout + interval - 1) / interval), last: s.heard.Load()}
	s.loops.Add(1)
	p.mu.Lock()
	p.t = time.AfterFunc(interval, p.round)
	p.mu.Unlock()
	context.AfterFunc(s.ctx, p.stop)
	return p
}

// stop ends the pinging. A round in flight is not cut short (cancelling a
// ping closes the socket, coder/websocket): it finishes and ends there.
func (p *pinger) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.stopped = true
	if p.t.Stop() {
		p.s.loops.Done() // no round pending or running will see stopped
	}
}

// round is one tick, on the timer's goroutine.
func (p *pinger) round() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		p.s.loops.Done()
		return
	}
	p.mu.Unlock()

	s := p.s
	if h := s.heard.Load(); h != p.last {
		p.last, p.missed = h, 0
	} else {
		p.missed++
	}
	if silent := time.Since(time.Unix(0, p.last)); silent >= p.timeout && p.missed >= p.rounds {
		s.log.Info("signal: peer silent, dropping", "silent", silent.Round(time.Millisecond))
		s.cancel()
	} else {
		// A pong arrives through the reader (OnPongReceived marks it heard);
		// a missing one just leaves the silence growing.
		ctx, cancel := context.WithTimeout(s.ctx, p.interval)
		_ = s.conn.Ping(ctx)
		cancel()
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped || s.ctx.Err() != nil {
		p.stopped = true
		p.s.loops.Done()
		return
	}
	p.t.Reset(p.interval)
}
