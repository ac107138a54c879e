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
	if v.ring != nil {
		t.Fatalf("a drained queue kept a ring of %d, grown past %d", len(v.ring), viewerQueueKeep)
	}
	if !v.enqueue(item{seq: next}) || len(v.ring) != viewerQueueStart {
		t.Fatalf("after a drain the queue starts again at %d, got a ring of %d", viewerQueueStart, len(v.ring))
	}
	next++
	pop()
}

// A ring no larger than a keyframe needs is kept when it drains, through
// flush as through pop: ordinary keyframes do not reallocate it.
func TestViewerQueueKeepsAKeyframesRing(t *testing.T) {
	v := &viewer{limit: 256}
	for i := range viewerQueueKeep {
		v.enqueue(item{seq: uint16(i)})
	}
	var out [flushChunk]item
	for v.popN(out[:]) > 0 {
	}
	if len(v.ring) != viewerQueueKeep {
		t.Fatalf("a drained ring of %d became %d, want it kept", viewerQueueKeep, len(v.ring))
	}
	for i := range viewerQueueKeep + 1 {
		v.enqueue(item{seq: uint16(i)})
	}
	for v.popN(out[:]) > 0 {
	}
	if v.ring != nil {
		t.Fatalf("a drained ring of %d was kept, past %d", len(v.ring), viewerQueueKeep)
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
