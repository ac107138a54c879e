package sfu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"github.com/seatsfu/seatsfu/media"
)

// viewer is a subscriber connection: its seat slots and its bounded queue,
// which the SFU's writers drain (writers.go).
type viewer struct {
	// The hot fields, first and together: the reader's for every packet
	// (up, the queue, run, pool), the writer's for every turn; a cache line
	// of a viewer's state missed per packet was most of the forwarding's
	// own time at 100 viewers (issue 16).
	mu     sync.Mutex
	ring   []item // head..head+n are queued; grows up to limit (viewerqueue.go)
	head   int
	n      int
	limit  int // the queue's bound in items (Config.ViewerQueue)
	closed bool
	// up: the connection can carry media. Until then the sources offer it
	// nothing (join.go); starting asks its writer to start the slots.
	up       atomic.Bool
	starting atomic.Bool

	// Its turns on the writers (writers.go): pool is nil in harnesses that
	// flush by hand; run is the run state; nextRun links the pool's run
	// queue (guarded by its mu).
	pool    *writerPool
	run     atomic.Int32
	stopped atomic.Bool
	nextRun *viewer
	eg      *viewerEgress // the direct egress path (egress.go); nil when off
	// replaying: a slot may have a paced replay in progress, so pace must
	// look at the slots (the serving writer's). Most turns have none, and
	// a look at every slot's replay state is a cold cache line per slot.
	replaying bool
	// collecting: the slots' sender reports wait for the end of the turn,
	// reportDue says one fell due (report.go); the serving writer's.
	collecting, reportDue bool
	// now is the time of the serving writer's turn (zero outside one):
	// a turn's packets go out in the writer's next sendmmsg, so they share
	// it, and a clock read per packet was a measurable share of forwarding.
	now time.Time
	// tally is the serving pool writer's count of forwarded packets,
	// added to the metrics once a batch (nil: count at once).
	tally *fwdTally
	room  *Room
	slots []*slot
	peer  *Peer
	probe probeState // probe.go; its first fields are read every turn

	user      string
	paceTimer *time.Timer // brings a paced replay back (the serving writer's)
	reports   []rtcp.Packet

	coGone bool // its co-host slots were detached for good; guarded by SFU.coMu

	// upState: counted among the node's connected viewers (overload.go).
	upState atomic.Int32

	// The connection's RTCP, parsed as Pion's SRTCP session hands it over
	// (feedback.go).
	fbMu sync.Mutex
	fb   media.Feedback
	// nacks is the viewer's retransmission budget (overload.go), nil
	// without a cap; the writer's.
	nacks *rate.Limiter

	// link: whether the viewer's own link holds its writer back
	// (egress.go). One for all its slots: they share its connection, and
	// while a video write waits on a full socket, its audio is dropped too.
	link linkWatch

	hooks   peerHooks
	quality *coalescer // rtc.quality (quality.go); nil without a hook

	// Downlink estimation and allocation (bwe.go, allocate.go).
	tcc      transportCC  // the writer's
	estimate atomic.Int64 // bit/s, 0 until known
	alloc    *coalescer   // runs allocate; nil without a peer
	budget   allocState   // guarded by room.mu
}

// item is one queued unit of work for the writer: a packet to forward or a
// sequence number a viewer NACKed.
type item struct {
	p    *packet
	sl   *slot
	b    *binding
	nack bool
	seq  uint16
	twcc *rtcp.TransportLayerCC // transport-wide feedback for the estimator
	// rebase: the keyframe that ends an overflow (slot.dropping). The
	// packets shed before it were shed on purpose, so the slot's numbering
	// continues without a gap rather than making the viewer NACK them.
	rebase bool
}

// binding is one pointing of a slot at a source. A new binding is made on
// every re-point, so comparing pointers tells whether a queued packet still
// belongs to what the slot carries now. A pending layer switch's binding
// (selector.go) also records the binding it replaces.
type binding struct {
	src  *source
	from *binding
	// asked is when a pending switch last asked its target for a keyframe
	// (since monoEpoch); only the target's reader changes it (promote).
	asked time.Duration
}

// slot is one negotiated m-line of a viewer: seat seatIdx (or, for co-host
// slot cohost ≥ 1, seatIdx -1 and the other room's owner), one kind.
type slot struct {
	// The hot fields, first and together: every packet reads them, the
	// reader (viewer, kind, binding, dropping) and the writer (the rest),
	// and at 100 viewers a packet's cache misses on a viewer's state were
	// most of the forwarding's own time (issue 16). So the writer finds
	// the bound track here, not behind the slotTrack, and the payload
	// type in out, not behind the bound track.
	viewer   *viewer
	kind     int
	binding  atomic.Pointer[binding]
	dropping atomic.Bool                // video: the queue overflowed, skip to the next keyframe
	bound    atomic.Pointer[boundTrack] // the connection's, set by track (slotTrack.Bind)
	// mu serialises the writer's use of the state below with re-pointing,
	// so once repoint returns no packet of the old binding is being written.
	mu  sync.Mutex
	cur *binding
	rw  *media.Rewriter // nil until the first packet; then &rwState
	// rwState is the rewriter, inside the slot beside the fields above,
	// not a cache line of its own elsewhere.
	rwState media.Rewriter
	out     boundCache // what forward needs of bound, copied
	// replayed: the GOP cache was replayed up to source seq replayedTo, so
	// queued packets up to it are duplicates.
	replayed   bool
	replayedTo uint16
	waitKey    bool
	// live: a write went out. Before the connection's SRTP is up Pion drops
	// writes silently (0 bytes, no error); until then the slot keeps
	// starting over, so its first packet out is still a keyframe.
	live bool
	// replaying: a paced replay runs (rp, which is cold; pace.go).
	replaying bool
	// rtxSeq numbers the slot's RTX stream (its own sequence space).
	rtxSeq uint16
	// Sender-report state (report.go).
	packets, octets uint32
	reportAt        time.Time
	sentAt          time.Time // the last packet a writer's turn sent (report.go)

	seatIdx int
	cohost  int
	host    *Room // the room whose owner a co-host slot carries; guarded by SFU.coMu
	mid     string
	track   *slotTrack
	sender  *webrtc.RTPSender
	// pending is a layer switch waiting for the target layer's keyframe
	// (selector.go); nil when none.
	pending atomic.Pointer[binding]

	// Layer selection (selector.go), video only; guarded by room.mu (a
	// co-host slot's: cohost_adapt.go). want
	// is the most the viewer asked for, capLayer the most its bandwidth
	// share allows (layerOff pauses the slot's video).
	want, capLayer int
	paused         bool          // counted in paused_slots
	sentQuality    slotQualityAt // what the viewer was last told (quality.go)

	// hdr is the scratch header of retransmissions and replays, which
	// are rarer than forwarding (whose header is on its stack).
	hdr rtp.Header
	// pionHdr is what a header handed to Pion's path is copied into: Pion
	// takes it through an interface, so it would escape from the stack.
	pionHdr rtp.Header
	// The paced replay in progress (pace.go), last: it is cold.
	rp replay
	// The cache walks of pace.go, made on the first replay so later ones
	// allocate nothing.
	measureFn, stepFn func([]byte) bool
}

// boundCache is a slot's copy of what forwarding reads of its bound track,
// refreshed when the track is bound anew (slot.outFor).
type boundCache struct {
	of     *boundTrack
	eg     *viewerEgress // bt.w's direct path (egressWriter.e), nil without one
	pt     uint8
	twccID uint8
}

// newSlot makes a viewer's slot for track: its Bind and Unbind set the
// slot's bound.
func newSlot(v *viewer, kind, seatIdx int, track *slotTrack) *slot {
	sl := &slot{viewer: v, kind: kind, seatIdx: seatIdx, track: track, want: layerHigh, capLayer: layerHigh}
	track.bound = &sl.bound
	return sl
}

// outFor is forward's view of bt. Called by the writer with sl.mu held.
func (sl *slot) outFor(bt *boundTrack) *boundCache {
	if sl.out.of != bt {
		sl.out = boundCache{of: bt, pt: bt.pt, twccID: bt.twccID}
		if w, ok := bt.w.(*egressWriter); ok {
			sl.out.eg = w.e
		}
	}
	return &sl.out
}

func newViewer(r *Room, user string, peer *Peer, queue int) *viewer {
	v := &viewer{room: r, user: user, peer: peer, limit: queue,
		pool: r.s.writers, nacks: r.s.ov.viewerLimiter()}
	v.up.Store(true) // no connection to wait for: gate makes one
	return v
}

func (v *viewer) stop() {
	if v.stopped.Swap(true) {
		return
	}
	v.eg.close()
	v.quality.stop()
	v.alloc.stop()
	v.schedule() // its last turn releases what is queued
}

// repoint makes the slot carry what it should of src from now on (nil:
// nothing; for video, the layer its selector picks, or nothing when
// paused). It waits for a write in progress, so when it returns not one
// more packet of the old source leaves through this slot. Called with
// room.mu held.
func (sl *slot) repoint(src *source) {
	sl.bind(sl.desired(src))
	sl.notePaused(src)
	sl.viewer.qualityChanged()
}

// bind makes the slot carry exactly src (nil: nothing) at once, dropping
// any pending layer switch. Called with room.mu held.
func (sl *slot) bind(src *source) {
	var b *binding
	if src != nil && src.pub.user != sl.viewer.user {
		b = &binding{src: src}
	}
	sl.mu.Lock()
	old := sl.binding.Swap(b)
	sl.mu.Unlock()
	sl.pending.Store(nil)
	sl.dropping.Store(false)
	if old != nil {
		old.src.pub.layersChanged()
	}
	if b != nil {
		src.pub.layersChanged()
		if old != nil && old.src.sim != nil && old.src.sim == src.sim {
			m := sl.viewer.room.s.m
			if old.src.layer > src.layer {
				m.layerSwitches[switchDown].Inc()
			} else {
				m.layerSwitches[switchUp].Inc()
			}
		}
	}
	if b != nil && (src.gop == nil || !src.gop.Valid()) {
		// No cached keyframe to start the slot on: ask for one now. With
		// one, the writer replays it, and a thousand viewers joining cost
		// the publisher nothing.
		src.requestKeyframe()
	}
}

// offer is the reader's side of the hot path: queue a reference to pk for
// this slot if the slot still carries src. wake: pk ends a frame, so the
// viewer's writer is woken for what was queued (framewake.go). It never
// blocks.
func (sl *slot) offer(src *source, pk *packet, wake bool) {
	v := sl.viewer
	if !v.up.Load() {
		return // not connected: the writer starts the slot from the cache when it is (join.go)
	}
	sl.queue(src, pk)
	if wake {
		// Whatever became of pk, the frame's earlier packets are due.
		v.schedule()
	}
}

// queue is offer's work on pk: queued, gated or dropped.
func (sl *slot) queue(src *source, pk *packet) {
	b := sl.binding.Load()
	if b == nil || b.src != src {
		// Another layer's packet (simulcast): it switches the slot only if
		// it is the keyframe a pending switch waits for.
		if b = sl.promote(src, pk); b == nil {
			return
		}
	}
	rebase := false
	if sl.kind == videoIdx && sl.dropping.Load() {
		if !pk.keyframe {
			sl.countDrop(videoIdx)
			return
		}
		sl.dropping.Store(false)
		rebase = true
	}
	if !sl.viewer.enqueue(item{p: pk, sl: sl, b: b, rebase: rebase}) {
		if sl.viewer.stopped.Load() {
			// Leaving, not behind: what it is offered until it leaves the
			// sinks is not due. Counted as dropped, a show's audience
			// leaving at once made the node "behind" (overload.go): it
			// refused newcomers and learned a ceiling from a second of
			// departures.
			return
		}
		sl.countDrop(sl.kind)
		if sl.kind == videoIdx {
			sl.dropping.Store(true)
			src.requestKeyframe()
		}
	}
}

// countDrop counts a packet of kind the slot's queue could not take: as
// the node's (overload.go's behind rule) unless the viewer's own link held
// its writer back.
func (sl *slot) countDrop(kind int) {
	m := sl.viewer.room.s.m
	m.droppedPackets[kind].Inc()
	if sl.viewer.link.slowNow() {
		m.ov.linkDropped.Inc()
		sl.viewer.room.s.ov.linkDropped.Add(1)
	}
}

// push queues it and wakes the viewer's writer; false when full.
func (v *viewer) push(it item) bool {
	if !v.enqueue(it) {
		return false
	}
	v.schedule()
	return true
}

// enqueue queues it, taking a reference to its packet, without waking the
// writer; false when full.
func (v *viewer) enqueue(it item) bool {
	v.mu.Lock()
	if v.closed || (v.n == len(v.ring) && !v.grow()) {
		v.mu.Unlock()
		return false
	}
	if it.p != nil {
		it.p.retain()
	}
	v.ring[(v.head+v.n)%len(v.ring)] = it
	v.n++
	v.mu.Unlock()
	return true
}

func (v *viewer) pop() (item, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.n == 0 {
		return item{}, false
	}
	it := v.ring[v.head]
	v.ring[v.head] = item{}
	v.head = (v.head + 1) % len(v.ring)
	v.n--
	v.shrinkDrained()
	return it, true
}

// flush writes everything queued. It takes the queue's lock once for up
// to flushChunk items, not once an item: a frame's packets, queued
// together (framewake.go), are taken together.
func (v *viewer) flush() {
	var its [flushChunk]item
	for {
		n := v.popN(its[:])
		if n == 0 {
			return
		}
		for i := range its[:n] {
			it := &its[i]
			if it.twcc != nil {
				v.onTransportFeedback(it.twcc)
			} else if it.nack {
				it.sl.retransmit(it.seq)
			} else {
				it.sl.forward(*it)
			}
			*it = item{}
		}
	}
}

// flushChunk is how many queued items flush takes at once.
const flushChunk = 16

// popN moves up to len(out) queued items into out and says how many.
func (v *viewer) popN(out []item) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := min(v.n, len(out))
	for i := range n {
		out[i] = v.ring[v.head]
		v.ring[v.head] = item{}
		v.head = (v.head + 1) % len(v.ring)
	}
	v.n -= n
	v.shrinkDrained()
	return n
}

// pace lets every replaying slot send what it may now, and the prober
// send its padding, and returns when the earliest of them may send again
// (zero: none is replaying or probing).
func (v *viewer) pace() time.Time {
	var due time.Time
	if v.replaying {
		due = v.paceReplays()
	}
	if d := v.probeStep(); !d.IsZero() && (due.IsZero() || d.Before(due)) { // probe.go
		due = d
	}
	return due
}

// paceReplays is pace's walk over the slots, made only while a replay may
// be running (viewer.replaying): each slot's replay state is a cold cache
// line.
func (v *viewer) paceReplays() time.Time {
	var due, now time.Time
	active := false
	for _, sl := range v.slots {
		if !sl.replaying { // only the writer sets it: safe to read unlocked here
			continue
		}
		if now.IsZero() {
			now = time.Now()
		}
		if d := sl.pump(now); !d.IsZero() && (due.IsZero() || d.Before(due)) {
			due = d
		}
		active = active || sl.replaying
	}
	v.replaying = active
	return due
}

func (v *viewer) drain() {
	v.mu.Lock()
	v.closed = true
	v.mu.Unlock()
	for {
		it, ok := v.pop()
		if !ok {
			return
		}
		if it.p != nil {
			it.p.release()
		}
	}
}

// forward rewrites one packet onto the slot's SSRC/sequence/timestamp space
// and writes it. After a switch (or the first packet) video starts only on
// a keyframe, which is requested upstream at once.
//
// No defers: with forwardLocked's many returns they would not be
// open-coded, and the runtime's deferred calls were 1 % of the writers'
// time at 100 viewers. Nothing below panics but a bug, which ends the
// process.
func (sl *slot) forward(it item) {
	sl.mu.Lock()
	sl.forwardLocked(it)
	sl.mu.Unlock()
	it.p.release()
}

func (sl *slot) forwardLocked(it item) {
	if sl.binding.Load() != it.b {
		return // the slot was re-pointed after this packet was queued: gated
	}
	bt := sl.bound.Load()
	if bt == nil {
		return // not connected yet
	}
	src := it.b.src
	sl.begin(it.b, bt)
	if it.rebase {
		// Resuming after an overflow: what was shed is not missing.
		sl.rw.Switch()
	}
	if sl.replaying {
		return // the replay sends this packet from the cache, in source order
	}
	if sl.waitKey {
		if it.p.keyframe {
			sl.waitKey = false
		} else if src.gop != nil && sl.startReplay(time.Now()) {
			// The writer's pace sends the keyframe at once and the rest
			// paced, this packet included (it is in the cache).
			sl.waitKey = false
			sl.viewer.replaying = true
			return
		} else {
			src.requestKeyframe()
			return
		}
	}
	if sl.replayed {
		if int16(it.p.hdr.SequenceNumber-sl.replayedTo) <= 0 {
			return // already sent by the replay
		}
		sl.replayed = false
	}
	h := it.p.hdr
	h.Extension, h.Extensions = false, nil
	h.Padding, h.PaddingSize = false, 0
	now := sl.viewer.clock()
	if !sl.rw.Rewrite(&h, now) {
		return
	}
	h.PayloadType = sl.outFor(bt).pt
	if !sl.send(bt, &h, it.p.payload) {
		return
	}
	sl.viewer.countForwarded(sl.kind, h.MarshalSize()+len(it.p.payload))
	sl.report(src, bt, now)
}

// clock is the time of the writer's turn, or the time now outside one.
func (v *viewer) clock() time.Time {
	if !v.now.IsZero() {
		return v.now
	}
	return time.Now()
}

// begin makes b the binding the slot writes (a no-op when it is): a new
// rewriter mapping, and video waits for a keyframe. Called by the writer
// with sl.mu held.
func (sl *slot) begin(b *binding, bt *boundTrack) {
	if sl.rw == nil {
		sl.rwState.Reset(uint32(bt.ssrc), b.src.codec.ClockRate())
		sl.rw = &sl.rwState
	}
	if sl.cur != b {
		sl.cur = b
		sl.rw.Switch()
		sl.waitKey = sl.kind == videoIdx
		sl.replayed = false
		sl.endReplay()            // pace.go
		sl.reportAt = time.Time{} // the new source's clock: report at once
	}
}

// send writes h and payload and counts them for the sender reports. A
// write Pion dropped because the connection is not up yet un-binds the slot
// from its source (sl.cur), so the next packet starts over on a keyframe.
// Called by the writer with sl.mu held.
func (sl *slot) send(bt *boundTrack, h *rtp.Header, payload []byte) bool {
	out := sl.outFor(bt)
	if out.twccID != 0 {
		sl.viewer.stamp(h, bt, len(payload))
	}
	// The direct path straight, without the hop through bt.w: the
	// egressWriter would try it first all the same.
	n, ok, err := out.eg.writeRTP(h, payload)
	if !ok {
		ph := &sl.hdr
		if h != ph {
			sl.pionHdr = *h
			ph = &sl.pionHdr
		}
		n, err = bt.w.WriteRTP(ph, payload)
	}
	if err != nil {
		return false
	}
	if n == 0 && !sl.live {
		sl.cur = nil
		return false
	}
	sl.live = true
	sl.packets++
	sl.octets += uint32(len(payload))
	return true
}
