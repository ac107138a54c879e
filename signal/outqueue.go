package signal

import "sync"

// outQueueStart is the room an empty session's queue starts with. Most
// sockets — a viewer's above all — hold a frame or two at a time, and a
// channel of outQueue frames cost every session ≈ 20 KiB up front (issue
// 16: a third of a viewer's heap at 300 viewers). The queue grows on
// demand, by doubling, up to the same bound.
const outQueueStart = 4

// frameQueue is a session's bounded outbound queue and the owner of its
// writer: many producers (the reader, the room's hub, the cluster), one
// writer goroutine at a time, which runs only while frames wait. A push
// onto an idle queue starts it; it exits when it finds the queue empty.
// A viewer's socket is quiet nearly all the time, and a writer parked on
// an empty queue cost every session a goroutine and its stack (issue 16).
// Frames are written in the order they were pushed, and a frame accepted
// by push is written unless writing ends first (write says so, or stop).
//
// The queue holds at most limit frames; it allocates only as deep as it
// has been.
type frameQueue struct {
	limit int
	// write writes one frame, on the writer goroutine; false ends the
	// writing for good (the socket is closing or handed over). Nil, no
	// writer runs and frames only wait (a socket-less session in tests).
	write func(outFrame) bool

	mu      sync.Mutex
	frames  []outFrame // frames[head:] are queued
	head    int
	writing bool // a writer goroutine runs (or is about to)
	ended   bool // no writer will run again
	writer  sync.WaitGroup
}

func newFrameQueue(limit int, write func(outFrame) bool) *frameQueue {
	return &frameQueue{limit: limit, write: write}
}

// setLimit changes the bound: frames already queued past a lowered bound
// stay, and the next push is refused until the queue drains below it.
func (q *frameQueue) setLimit(limit int) {
	q.mu.Lock()
	q.limit = limit
	q.mu.Unlock()
}

// bound is the queue's bound now.
func (q *frameQueue) bound() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.limit
}

// push queues f and makes sure a writer will take it. It reports false only
// when limit frames already wait (the peer is not reading). Once writing
// has ended f is dropped: the socket will not be written again.
func (q *frameQueue) push(f outFrame) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ended {
		return true
	}
	if len(q.frames)-q.head >= q.limit {
		return false
	}
	if q.head > 0 && len(q.frames) == cap(q.frames) {
		// Slide the live frames down before append would grow the array.
		n := copy(q.frames, q.frames[q.head:])
		clear(q.frames[n:])
		q.frames, q.head = q.frames[:n], 0
	}
	if q.frames == nil {
		q.frames = make([]outFrame, 0, min(outQueueStart, q.limit))
	} else if len(q.frames) == cap(q.frames) {
		// Double, never past the bound.
		grown := make([]outFrame, len(q.frames), min(2*cap(q.frames), q.limit))
		copy(grown, q.frames)
		q.frames = grown
	}
	q.frames = append(q.frames, f)
	if !q.writing && q.write != nil {
		// Added under mu while not ended, so stop's Wait, which follows
		// ended under mu, always sees it.
		q.writing = true
		q.writer.Add(1)
		go q.drain()
	}
	return true
}

// drain is the writer: it writes the queued frames in order and exits when
// none is left, or for good when a write says so.
func (q *frameQueue) drain() {
	defer q.writer.Done()
	for {
		f, ok := q.next()
		if !ok {
			return
		}
		if !q.write(f) {
			q.end() // next finds it ended and lets the writer go
		}
	}
}

// next takes the oldest frame for the writer. When there is none, or
// writing has ended, the writer is done: it says so under the same lock a
// push checks, so a frame pushed at that moment starts a new writer rather
// than waiting for none.
func (q *frameQueue) next() (outFrame, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ended || q.head == len(q.frames) {
		q.writing = false
		return outFrame{}, false
	}
	f := q.frames[q.head]
	q.frames[q.head] = outFrame{} // let the written frame's bytes go
	q.head++
	if q.head == len(q.frames) {
		q.frames, q.head = q.frames[:0], 0
	}
	return f, true
}

// end ends the writing: no writer starts again, and what still waits is
// let go.
func (q *frameQueue) end() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ended = true
	q.frames, q.head = nil, 0
}

// stop ends the writing and waits for a writer still running (it ends at
// its write in progress, if any, which the caller cuts short by cancelling
// the session). Safe to call more than once.
func (q *frameQueue) stop() {
	q.end()
	q.writer.Wait()
}

// len is how many frames wait.
func (q *frameQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.frames) - q.head
}
