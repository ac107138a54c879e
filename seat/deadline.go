package seat

import (
	"container/heap"
	"time"
)

// deadline is one timed event: a request's timeout or a disconnected
// member's reconnect grace. Exactly one of request and member is set.
type deadline struct {
	at      time.Time
	seq     uint64 // breaks ties: equal deadlines fire in the order they were set
	index   int    // position in the heap, so a cancelled deadline is removed in O(log n)
	request *request
	member  *member
}

// deadlineQueue is an indexed min-heap of deadlines. Cancelling removes the
// entry at once, so the heap never holds stale entries and its top is always
// the exact next deadline.
type deadlineQueue struct {
	items   deadlineHeap
	lastSeq uint64
}

func (q *deadlineQueue) add(at time.Time, req *request, m *member) *deadline {
	q.lastSeq++
	d := &deadline{at: at, seq: q.lastSeq, request: req, member: m}
	heap.Push(&q.items, d)
	return d
}

func (q *deadlineQueue) remove(d *deadline) {
	if d != nil && d.index >= 0 {
		heap.Remove(&q.items, d.index)
	}
}

func (q *deadlineQueue) peek() *deadline {
	if len(q.items) == 0 {
		return nil
	}
	return q.items[0]
}

func (q *deadlineQueue) clear() {
	for _, d := range q.items {
		d.index = -1
	}
	q.items = nil
}

func (q *deadlineQueue) len() int { return len(q.items) }

type deadlineHeap []*deadline

func (h deadlineHeap) Len() int { return len(h) }

func (h deadlineHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}

func (h deadlineHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *deadlineHeap) Push(x any) {
	d := x.(*deadline)
	d.index = len(*h)
	*h = append(*h, d)
}

func (h *deadlineHeap) Pop() any {
	old := *h
	n := len(old)
	d := old[n-1]
	old[n-1] = nil
	d.index = -1
	*h = old[:n-1]
	return d
}
