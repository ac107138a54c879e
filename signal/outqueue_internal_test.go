package signal

import (
	"strconv"
	"testing"
)

// The queue keeps order across growth and wrap-around, refuses the frame
// past its bound, and never allocates past the bound.
func TestFrameQueueOrderAndBound(t *testing.T) {
	const limit = 10
	q := newFrameQueue(limit)
	if q.frames != nil {
		t.Fatal("an empty queue allocated up front")
	}
	next, want := 0, 0
	push := func() bool {
		ok := q.push(outFrame{data: []byte(strconv.Itoa(next))})
		if ok {
			next++
		}
		return ok
	}
	pop := func() {
		t.Helper()
		f, ok := q.pop()
		if !ok {
			t.Fatalf("pop found nothing, %d queued", next-want)
		}
		if got := string(f.data); got != strconv.Itoa(want) {
			t.Fatalf("popped %s, want %d", got, want)
		}
		want++
	}
	for round := 0; round < 5; round++ {
		for push() {
		}
		if n := q.len(); n != limit {
			t.Fatalf("refused at %d frames, the bound is %d", n, limit)
		}
		if c := cap(q.frames); c > limit {
			t.Fatalf("the queue holds room for %d frames, the bound is %d", c, limit)
		}
		for i := 0; i < 3+round; i++ { // leave some behind so the next round wraps
			pop()
		}
	}
	for q.len() > 0 {
		pop()
	}
	if _, ok := q.pop(); ok {
		t.Fatal("pop on an empty queue found a frame")
	}
}

// A quiet session's queue stays at its starting size.
func TestFrameQueueStaysSmallWhenDrained(t *testing.T) {
	q := newFrameQueue(outQueue)
	for i := 0; i < 1000; i++ {
		if !q.push(outFrame{data: []byte("{}")}) {
			t.Fatal("refused with one frame queued")
		}
		if _, ok := q.pop(); !ok {
			t.Fatal("lost a frame")
		}
	}
	if c := cap(q.frames); c != outQueueStart {
		t.Fatalf("a queue that never held more than one frame grew to %d", c)
	}
	select {
	case <-q.ready:
	default:
		t.Fatal("a push left no wake-up for the writer")
	}
}
