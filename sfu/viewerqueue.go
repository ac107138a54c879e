package sfu

// viewerQueueStart is the ring a viewer's queue starts with, in items.
// Preallocating Config.ViewerQueue items (256 × 48 bytes) cost every
// viewer 12 KiB of heap up front (issue 16) while a healthy viewer's
// writer keeps up and holds about one frame's packets at a time; the ring
// doubles on demand up to the same bound, so what may queue is unchanged.
const viewerQueueStart = 32

// grow makes room for one more item, doubling the ring up to the
// viewer's limit; false when the queue is at its bound. Called with v.mu
// held and the ring full (or not yet made).
func (v *viewer) grow() bool {
	size := min(max(2*len(v.ring), viewerQueueStart), v.limit)
	if size <= len(v.ring) {
		return false
	}
	ring := make([]item, size)
	// Unwrap into the new ring: the oldest item first, at index 0.
	n := copy(ring, v.ring[v.head:])
	copy(ring[n:], v.ring[:v.head])
	v.ring, v.head = ring, 0
	return true
}

// viewerQueueKeep is the most ring a drained queue keeps: room for a
// keyframe's packets, so ordinary keyframes do not make the ring grow and
// shrink each time. A ring grown past it — by a join's replay, a stall —
// is let go once it drains and grows again only if it must: a 300-viewer
// heap profile found most viewers' rings at the bound long after their
// joins, 12 KiB each (issue 16).
const viewerQueueKeep = 2 * viewerQueueStart

// shrinkDrained lets go of a drained queue's ring when it is larger than
// viewerQueueKeep. Called with v.mu held.
func (v *viewer) shrinkDrained() {
	if v.n == 0 && len(v.ring) > viewerQueueKeep {
		v.ring, v.head = nil, 0
	}
}
