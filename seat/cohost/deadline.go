package cohost

import (
	"container/heap"
	"time"
)

// deadline is one timed event: a request's timeout, a battle's end, or a
// battle's delayed score notification. Exactly one of request and battle is
// set; flush marks the score notification.
type deadline struct {
	at      time.Time
	seq     uint64 // equal deadlines fire in the order they were set
	index   int    // position in the heap; -1 once removed
	request *request
	battle  *battle
	flush   bool
}

// deadlines is an indexed min-heap: removing a cancelled deadline is
// O(log n), so its top is always the exact next deadline.
type deadlines struct {
	items   deadlineHeap
	lastSeq uint64
}

func (q *deadlines) add(d *deadline) *deadline {
	q.lastSeq++
	d.seq = q.lastSeq
	heap.Push(&q.items, d)
	return d
}

func (q *deadlines) remove(d *deadline) {
	if d != nil && d.index >= 0 {
		heap.Remove(&q.items, d.index)
	}
}

func (q *deadlines) peek() *deadline {
	if len(q.items) == 0 {
		return nil
	}
	return q.items[0]
}

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
	h[i].index, h[j].index = i, j
}
func (h *deadlineHeap) Push(x any) {
	d := x.(*deadline)
	d.index = len(*h)
	*h = append(*h, d)
}
func (h *deadlineHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	old[len(old)-1] = nil
	d.index = -1
	*h = old[:len(old)-1]
	return d
}
