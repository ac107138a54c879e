package sfu

import "testing"

// The queue starts small, keeps order across wrap-around and growth,
// refuses the item past its bound, and never allocates past it.
func TestViewerQueueGrowsUpToItsBound(t *testing.T) {
	const limit = 100
	v := &viewer{limit: limit}
	if v.ring != nil {
		t.Fatal("allocated before the first packet")
	}
	next, want := uint16(0), uint16(0)
	pop := func() {
		t.Helper()
		it, ok := v.pop()
		if !ok {
			t.Fatalf("pop found nothing, %d queued", next-want)
		}
		if it.seq != want {
			t.Fatalf("popped %d, want %d", it.seq, want)
		}
		want++
	}
	// A writer that keeps up: the ring stays at its start.
	for range 3 * viewerQueueStart {
		if !v.enqueue(item{seq: next}) {
			t.Fatal("refused with an empty queue")
		}
		next++
		pop()
	}
	if len(v.ring) != viewerQueueStart {
		t.Fatalf("a queue never more than one deep grew to %d", len(v.ring))
	}
	// A stalled writer: it grows, wrapped, to the bound and no further.
	for round := range 4 {
		for v.enqueue(item{seq: next}) {
			next++
		}
		if v.n != limit {
			t.Fatalf("refused at %d items, the bound is %d", v.n, limit)
		}
		if len(v.ring) > limit {
			t.Fatalf("a ring of %d, the bound is %d", len(v.ring), limit)
		}
		for range 7 + round {
			pop()
		}
	}
	for v.n > 0 {
		pop()
	}
}

// Growing a ring whose items wrap past its end keeps them oldest first.
func TestViewerQueueGrowsAWrappedRing(t *testing.T) {
	v := &viewer{limit: 4 * viewerQueueStart}
	for i := range viewerQueueStart {
		v.enqueue(item{seq: uint16(i)})
	}
	for range viewerQueueStart / 2 {
		v.pop()
	}
	for i := range viewerQueueStart { // wraps, then grows
		v.enqueue(item{seq: uint16(viewerQueueStart + i)})
	}
	if len(v.ring) != 2*viewerQueueStart {
		t.Fatalf("ring of %d, want %d", len(v.ring), 2*viewerQueueStart)
	}
	for want := uint16(viewerQueueStart / 2); v.n > 0; want++ {
		it, _ := v.pop()
		if it.seq != want {
			t.Fatalf("popped %d, want %d", it.seq, want)
		}
	}
}
