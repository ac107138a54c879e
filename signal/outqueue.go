package signal

import "sync"

// outQueueStart is the room an empty session's queue starts with. Most
// sockets — a viewer's above all — hold a frame or two at a time, and a
// channel of outQueue frames cost every session ≈ 20 KiB up front (issue
// 16: a third of a viewer's heap at 300 viewers). The queue grows on
// demand, by doubling, up to the same bound.
const outQueueStart = 4

// frameQueue is a session's bounded outbound queue: many producers (the
// reader, the room's hub, the cluster), one consumer (the writer). It
// holds at most limit frames; it allocates only as deep as it has been.
type frameQueue struct {
	limit int
	ready chan struct{} // one token: there may be frames to take

	mu     sync.Mutex
	frames []outFrame // frames[head:] are queued
	head   int
}

func newFrameQueue(limit int) *frameQueue {
	return &frameQueue{limit: limit, ready: make(chan struct{}, 1)}
}

// push queues f, or reports false when limit frames already wait.
func (q *frameQueue) push(f outFrame) bool {
	q.mu.Lock()
	if len(q.frames)-q.head >= q.limit {
		q.mu.Unlock()
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
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default: // a wake-up is already pending
	}
	return true
}

// pop takes the oldest frame, if any. The consumer waits on ready when
// pop finds nothing.
func (q *frameQueue) pop() (outFrame, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.frames) {
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

// len is how many frames wait.
func (q *frameQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.frames) - q.head
}
