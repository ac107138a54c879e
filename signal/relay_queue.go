package signal

import (
	"sync"

	"github.com/seatsfu/seatsfu/internal/nodelink"
)

// edgeQueue holds a relayed session's frames from the host until the
// client's socket takes them (relay.go). It is bounded as a direct
// socket's queue is (queueLimitFor: 256 frames, a host's a room's worth
// more, since a host hears every member join) and, like that queue
// (outqueue.go), it takes the memory it has needed, not its bound. A
// channel could do neither: its room is allocated when it is made — a
// host's 10,256 Frames of 56 bytes each without --max-members, ½ MiB —
// and cannot grow for a member the server API promotes later.
//
// Frames come from the link's reader (push, never blocking) and go to the
// session's writer (pop, woken by ready).
type edgeQueue struct {
	ready chan struct{} // cap 1: a frame was pushed since the writer last looked

	mu     sync.Mutex
	limit  int
	frames []nodelink.Frame // frames[head:] wait
	head   int
}

func newEdgeQueue(limit int) *edgeQueue {
	return &edgeQueue{ready: make(chan struct{}, 1), limit: limit}
}

// setLimit changes the bound: frames already queued past a lowered bound
// stay, and the next push is refused until the queue drains below it (as
// frameQueue.setLimit).
func (q *edgeQueue) setLimit(limit int) {
	q.mu.Lock()
	q.limit = limit
	q.mu.Unlock()
}

// bound is the queue's bound now.
func (q *edgeQueue) bound() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.limit
}

// push queues f and wakes the writer. It reports false, and queues
// nothing, when limit frames already wait: the client is not reading.
func (q *edgeQueue) push(f nodelink.Frame) bool {
	q.mu.Lock()
	if len(q.frames)-q.head >= q.limit {
		q.mu.Unlock()
		return false
	}
	if q.head > 0 && len(q.frames) == cap(q.frames) {
		// Slide the waiting frames down before append would grow the array.
		n := copy(q.frames, q.frames[q.head:])
		clear(q.frames[n:])
		q.frames, q.head = q.frames[:n], 0
	}
	q.frames = append(q.frames, f)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default: // the writer has been told already
	}
	return true
}

// pop takes the oldest frame; false when none waits.
func (q *edgeQueue) pop() (nodelink.Frame, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.frames) {
		return nodelink.Frame{}, false
	}
	f := q.frames[q.head]
	q.frames[q.head] = nodelink.Frame{} // let the frame's payload go
	q.head++
	if q.head == len(q.frames) {
		q.frames, q.head = q.frames[:0], 0
	}
	return f, true
}

// len is how many frames wait.
func (q *edgeQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.frames) - q.head
}
