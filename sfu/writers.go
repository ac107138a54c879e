package sfu

import (
	"sync"
	"time"
)

// The viewers' writers (issue 16). A viewer's queue used to be drained by a
// goroutine of its own, parked and woken per packet: at 100 viewers the
// park/wake loop was 12 % of the writers' samples, and every goroutine's
// stack counted in the memory per viewer. Now a small pool of writer
// goroutines — as many as the Go scheduler's processors — serves every
// viewer on the direct egress path: a viewer with work is put on the
// pool's run queue once, a writer takes it, drains its queue and paces its
// replays, and, the queue still filling meanwhile, puts it back at the
// tail. A writer's datagrams of several viewers share a sendmmsg
// (egress.go).
//
// One writer at a time serves a viewer, and it keeps the viewer (in
// runRunning, so new work only marks it runAgain) until the datagrams it
// batched for it are sent: another writer taking the viewer meanwhile
// could send its later packets first, and reordered video makes viewers
// NACK what is merely late.
//
// A viewer on Pion's path (ICE-TCP, a relay, no direct keys, the direct
// path off) is not served by the pool: a TCP write blocks while the
// viewer's socket buffer is full, and one slow TCP viewer must not stall a
// writer every other viewer needs. A writer that takes one from the run
// queue starts a goroutine for its work, which exits once the queue is
// empty: still no goroutine at rest.
//
// The paced replay of a cached GOP (pace.go) asks to run again at a time;
// a timer schedules the viewer then.

// Run states of a viewer (viewer.run).
const (
	runIdle    = iota // no work, nobody serving
	runQueued         // on the pool's run queue or its goroutine starting
	runRunning        // being served
	runAgain          // being served, and more work arrived
)

// writerPool is the SFU's writers. Close stops them.
type writerPool struct {
	mu         sync.Mutex
	ready      sync.Cond
	head, tail *viewer // the run queue, linked through viewer.nextRun
	closed     bool
	wg         sync.WaitGroup
	sock       *egressSocket
}

func newWriterPool(n int, sock *egressSocket) *writerPool {
	p := &writerPool{sock: sock}
	p.ready.L = &p.mu
	p.wg.Add(n)
	for range n {
		go p.work()
	}
	return p
}

// schedule makes sure v is served after this call; it never blocks.
func (p *writerPool) schedule(v *viewer) {
	for {
		switch v.run.Load() {
		case runIdle:
			if v.run.CompareAndSwap(runIdle, runQueued) {
				p.dispatch(v)
				return
			}
		case runRunning:
			if v.run.CompareAndSwap(runRunning, runAgain) {
				return // its writer goes round once more
			}
		default:
			return // already due to run
		}
	}
}

// dispatch puts a queued viewer on the pool's run queue.
func (p *writerPool) dispatch(v *viewer) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		v.drain() // the node is closing: nobody writes any more
		return
	}
	if p.tail == nil {
		p.head = v
	} else {
		p.tail.nextRun = v
	}
	p.tail = v
	p.ready.Signal()
	p.mu.Unlock()
}

// writer is one goroutine of the pool: its batch, and the viewers whose
// datagrams it holds.
type writer struct {
	p     *writerPool
	b     *egressBatch
	held  []*viewer
	tally fwdTally
}

// next takes the viewer at the head of the run queue; nil once the pool
// closes. Before waiting for work it sends what it holds.
func (w *writer) next() *viewer {
	p := w.p
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.head == nil && !p.closed {
		if w.b.n > 0 || len(w.held) > 0 || w.tally.pending() {
			p.mu.Unlock()
			w.send()
			p.mu.Lock()
			continue
		}
		p.ready.Wait()
	}
	if p.closed {
		return nil
	}
	v := p.head
	p.head, v.nextRun = v.nextRun, nil
	if p.head == nil {
		p.tail = nil
	}
	return v
}

func (p *writerPool) work() {
	defer p.wg.Done()
	w := &writer{p: p, b: newEgressBatch(), held: make([]*viewer, 0, egressBatchSize)}
	defer w.send()
	for {
		v := w.next()
		if v == nil {
			return
		}
		if p.sock != nil && !v.eg.isDirect() {
			// On Pion's path: a goroutine of its own. Decided here, not
			// by dispatch, so the reader that wakes a viewer touches
			// nothing of its egress state (a cache miss a wake-up).
			p.wg.Add(1) // this writer is counted: never from zero
			go p.serveAlone(v)
			continue
		}
		v.run.Store(runRunning)
		mark := w.b.added
		v.tally = &w.tally
		v.serve(w.b)
		v.tally = nil
		if w.b.n == 0 || w.b.added == mark {
			p.done(v) // nothing of it waits in the batch
			continue
		}
		w.held = append(w.held, v)
		if len(w.held) == cap(w.held) {
			w.send()
		}
	}
}

// send sends the batch and lets the viewers it held go.
func (w *writer) send() {
	w.p.sock.send(w.b)
	w.tally.flush()
	for i, v := range w.held {
		w.p.done(v)
		w.held[i] = nil
	}
	w.held = w.held[:0]
}

// done ends a writer's turn on v: idle, or, more work having come in, to
// the back of the line, so a busy viewer cannot starve the others.
func (p *writerPool) done(v *viewer) {
	if !v.run.CompareAndSwap(runRunning, runIdle) {
		v.run.Store(runQueued)
		p.dispatch(v)
	}
}

// serveAlone serves a viewer on Pion's path until it has no work left.
func (p *writerPool) serveAlone(v *viewer) {
	defer p.wg.Done()
	for {
		v.run.Store(runRunning)
		v.serve(nil)
		if v.run.CompareAndSwap(runRunning, runIdle) {
			return
		}
	}
}

// close stops the writers once they finish the viewer in hand; queued
// viewers' packets are released. Closing again is a no-op.
func (p *writerPool) close() {
	p.mu.Lock()
	p.closed = true
	queued := p.head
	p.head, p.tail = nil, nil
	p.ready.Broadcast()
	p.mu.Unlock()
	for v := queued; v != nil; {
		next := v.nextRun
		v.nextRun = nil
		v.drain()
		v = next
	}
	p.wg.Wait()
}

// schedule asks for the viewer to be served (nothing without a pool: test
// harnesses flush by hand).
func (v *viewer) schedule() {
	if v.pool != nil {
		v.pool.schedule(v)
	}
}

// serve is one turn of a writer on v: drain its queue and pace its
// replays, or, once it stopped, release what is left. b is the writer's
// batch (nil: send at once).
func (v *viewer) serve(b *egressBatch) {
	if v.stopped.Load() {
		v.drain()
		if v.paceTimer != nil {
			v.paceTimer.Stop()
		}
		return
	}
	v.eg.begin(b)
	v.now = time.Now() // the turn's time (viewer.clock)
	v.collecting = v.peer != nil
	if v.starting.Load() {
		v.replaying = true // startSlots may start replays
	}
	v.startSlots() // join.go
	v.flush()
	due := v.pace()
	if v.collecting {
		v.collecting = false
		v.sendReports(v.now) // in the turn: into the batch (egress_outbox.go)
	}
	v.eg.end()
	v.now = time.Time{}
	if due.IsZero() {
		return
	}
	// A replay waits to send more: come back then. The timer is only
	// touched by the writer serving v.
	if d := time.Until(due); v.paceTimer == nil {
		v.paceTimer = time.AfterFunc(d, v.schedule)
	} else {
		v.paceTimer.Reset(d)
	}
}
