package sfu

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/media"
	"github.com/seatsfu/seatsfu/seat"
)

// viewer is a subscriber connection: its seat slots, its bounded queue and
// the one writer goroutine that drains it.
type viewer struct {
	room  *Room
	user  string
	peer  *Peer
	slots []*slot

	mu     sync.Mutex
	ring   []item // preallocated; head..head+n are queued
	head   int
	n      int
	closed bool

	scratch [defaultReceiveMTU]byte     // the writer's buffer for retransmissions
	rtxBuf  [defaultReceiveMTU + 2]byte // and for their RTX payload (OSN + payload)

	wake     chan struct{} // cap 1: "the ring is not empty"
	quit     chan struct{}
	quitOnce sync.Once
}

// item is one queued unit of work for the writer: a packet to forward or a
// sequence number a viewer NACKed.
type item struct {
	p    *packet
	sl   *slot
	b    *binding
	nack bool
	seq  uint16
}

// binding is one pointing of a slot at a source. A new binding is made on
// every re-point, so comparing pointers tells whether a queued packet still
// belongs to what the slot carries now.
type binding struct{ src *source }

// slot is one negotiated m-line of a viewer: seat seatIdx, one kind.
type slot struct {
	viewer  *viewer
	kind    int
	seatIdx int
	mid     string
	track   *slotTrack
	sender  *webrtc.RTPSender

	binding  atomic.Pointer[binding]
	dropping atomic.Bool // video: the queue overflowed, skip to the next keyframe

	// mu serialises the writer's use of the state below with re-pointing,
	// so once repoint returns no packet of the old binding is being written.
	mu      sync.Mutex
	cur     *binding
	waitKey bool
	// replayed: the GOP cache was replayed up to source seq replayedTo, so
	// queued packets up to it are duplicates.
	replayed   bool
	replayedTo uint16
	rw         *media.Rewriter
	hdr        rtp.Header // scratch header, reused to avoid an allocation per packet
	// live: a write went out. Before the connection's SRTP is up Pion drops
	// writes silently (0 bytes, no error); until then the slot keeps
	// starting over, so its first packet out is still a keyframe.
	live bool
	// rtxSeq numbers the slot's RTX stream (its own sequence space).
	rtxSeq uint16
	// Sender-report state (report.go).
	packets, octets uint32
	reportAt        time.Time

	// The paced replay in progress (pace.go), last: it is cold, and the
	// fields above are touched for every packet.
	rp replay
	// The cache walks of pace.go, made on the first replay so later ones
	// allocate nothing.
	measureFn, stepFn func([]byte) bool
}

func newViewer(r *Room, user string, peer *Peer, queue int) *viewer {
	return &viewer{room: r, user: user, peer: peer, ring: make([]item, queue),
		wake: make(chan struct{}, 1), quit: make(chan struct{})}
}

// Subscribe answers a subscribe offer (rtc.subscribe, WHEP). The k-th audio
// and k-th video m-lines carry seat firstSeat+k; the rest are inactive.
// userID's own media is never sent back to it.
func (r *Room) Subscribe(userID, offer string, firstSeat int) (*Peer, string, []Slot, error) {
	if firstSeat < 0 || firstSeat >= r.maxSeats {
		return nil, "", nil, seat.ErrSeatIndexInvalid
	}
	lines, err := checkOffer(offer, r.s.videoCodec)
	if err != nil {
		return nil, "", nil, err
	}
	for _, l := range lines {
		if l.kind >= 0 && l.direction != "recvonly" && l.direction != "sendrecv" {
			return nil, "", nil, fmt.Errorf("%w: subscribe m-line %q is %s, want recvonly", ErrBadSDP, l.mid, l.direction)
		}
	}
	r.mu.Lock()
	ended, banned := r.ended, r.seat.Banned(userID)
	r.mu.Unlock()
	if ended {
		return nil, "", nil, ErrRoomEnded
	}
	if banned {
		return nil, "", nil, seat.ErrBanned
	}

	peer, err := r.s.newPeer(r.s.subAPI)
	if err != nil {
		return nil, "", nil, err
	}
	v := newViewer(r, userID, peer, r.s.cfg.ViewerQueue)
	fail := func(err error) (*Peer, string, []Slot, error) {
		_ = peer.Close()
		return nil, "", nil, err
	}
	if err := peer.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fail(fmt.Errorf("%w: %v", ErrBadSDP, err))
	}
	var count [2]int
	var trs []*webrtc.RTPTransceiver
	for _, tr := range peer.pc.GetTransceivers() {
		kind := audioIdx
		if tr.Kind() == webrtc.RTPCodecTypeVideo {
			kind = videoIdx
		}
		idx := firstSeat + count[kind]
		count[kind]++
		if idx >= r.maxSeats {
			// Beyond the last seat: Pion would answer a track-less
			// transceiver sendonly; stopping it answers inactive (§5).
			if err := tr.Stop(); err != nil {
				return fail(fmt.Errorf("%w: %v", ErrBadSDP, err))
			}
			continue
		}
		sl := &slot{viewer: v, kind: kind, seatIdx: idx, track: r.s.newSlotTrack(kind, idx)}
		if sl.sender, err = peer.pc.AddTrack(sl.track); err != nil {
			return fail(fmt.Errorf("%w: %v", ErrBadSDP, err))
		}
		if tr.Sender() != sl.sender {
			return fail(fmt.Errorf("%w: m-line order could not be kept", ErrBadSDP))
		}
		v.slots = append(v.slots, sl)
		trs = append(trs, tr)
	}
	answer, err := peer.answer(context.Background())
	if err != nil {
		return fail(err)
	}
	slots := make([]Slot, len(v.slots))
	for i, sl := range v.slots {
		sl.mid = trs[i].Mid()
		slots[i] = Slot{Mid: sl.mid, Kind: kindNames[sl.kind], SeatIndex: sl.seatIdx}
	}

	r.mu.Lock()
	if r.ended || !peer.setOnClose(func() { r.detachViewer(v) }) {
		r.mu.Unlock()
		return fail(ErrRoomEnded)
	}
	r.viewers[v] = struct{}{}
	for _, sl := range v.slots {
		sm := &r.seats[sl.seatIdx]
		sm.slots[sl.kind] = append(append([]*slot(nil), sm.slots[sl.kind]...), sl)
		sl.repoint(sm.src[sl.kind])
		if src := sm.src[sl.kind]; src != nil {
			r.refreshSinks(src)
		}
	}
	r.mu.Unlock()

	peer.goOwned(v.write)
	for _, sl := range v.slots {
		peer.goOwned(sl.readRTCP)
	}
	return peer, answer, slots, nil
}

func (r *Room) detachViewer(v *viewer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.detachViewerLocked(v)
}

// detachViewerLocked takes a viewer's slots off their seats and stops its
// writer. Called with room.mu held.
func (r *Room) detachViewerLocked(v *viewer) {
	if _, ok := r.viewers[v]; !ok {
		return
	}
	delete(r.viewers, v)
	for _, sl := range v.slots {
		sm := &r.seats[sl.seatIdx]
		kept := make([]*slot, 0, len(sm.slots[sl.kind]))
		for _, o := range sm.slots[sl.kind] {
			if o != sl {
				kept = append(kept, o)
			}
		}
		sm.slots[sl.kind] = kept
		if src := sm.src[sl.kind]; src != nil {
			r.refreshSinks(src)
		}
		sl.repoint(nil)
	}
	v.stop()
}

func (v *viewer) stop() { v.quitOnce.Do(func() { close(v.quit) }) }

// repoint makes the slot carry src from now on (nil: nothing). It waits for
// a write in progress, so when it returns not one more packet of the old
// source leaves through this slot. Called with room.mu held.
func (sl *slot) repoint(src *source) {
	var b *binding
	if src != nil && src.pub.user != sl.viewer.user {
		b = &binding{src: src}
	}
	sl.mu.Lock()
	sl.binding.Store(b)
	sl.mu.Unlock()
	sl.dropping.Store(false)
	if b != nil && (src.gop == nil || !src.gop.Valid()) {
		// No cached keyframe to start the slot on: ask for one now. With
		// one, the writer replays it, and a thousand viewers joining cost
		// the publisher nothing.
		src.requestKeyframe()
	}
}

// offer is the reader's side of the hot path: queue a reference to pk for
// this slot if the slot still carries src. It never blocks.
func (sl *slot) offer(src *source, pk *packet) {
	b := sl.binding.Load()
	if b == nil || b.src != src {
		return
	}
	m := src.pub.room.s.m
	if sl.kind == videoIdx && sl.dropping.Load() {
		if !pk.keyframe {
			m.droppedPackets[videoIdx].Inc()
			return
		}
		sl.dropping.Store(false)
	}
	if !sl.viewer.push(item{p: pk, sl: sl, b: b}) {
		m.droppedPackets[sl.kind].Inc()
		if sl.kind == videoIdx {
			sl.dropping.Store(true)
			src.requestKeyframe()
		}
	}
}

// push queues it, taking a reference to its packet; false when full.
func (v *viewer) push(it item) bool {
	v.mu.Lock()
	if v.closed || v.n == len(v.ring) {
		v.mu.Unlock()
		return false
	}
	if it.p != nil {
		it.p.retain()
	}
	v.ring[(v.head+v.n)%len(v.ring)] = it
	v.n++
	v.mu.Unlock()
	select {
	case v.wake <- struct{}{}:
	default:
	}
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
	return it, true
}

// write is the viewer's writer goroutine: it drains the queue and paces its
// slots' replays (pace.go) until the viewer stops, then releases whatever is
// left. Its one timer wakes it when a paced replay may send again.
func (v *viewer) write() {
	defer v.drain()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	// armed: the timer runs. Unarmed, the select leaves its channel out
	// (nil) and no Stop is paid per wake: the hot path when nothing replays.
	armed := false
	for {
		var tick <-chan time.Time
		if armed {
			tick = timer.C
		}
		select {
		case <-v.wake:
		case <-tick:
			armed = false
		case <-v.quit:
			return
		}
		v.flush()
		if due := v.pace(); !due.IsZero() {
			timer.Reset(time.Until(due))
			armed = true
		} else if armed {
			timer.Stop()
			armed = false
		}
	}
}

// flush writes everything queued.
func (v *viewer) flush() {
	for {
		it, ok := v.pop()
		if !ok {
			return
		}
		if it.nack {
			it.sl.retransmit(it.seq)
		} else {
			it.sl.forward(it)
		}
	}
}

// pace lets every replaying slot send what it may now, and returns when the
// earliest of them may send again (zero: none is replaying).
func (v *viewer) pace() time.Time {
	var due time.Time
	var now time.Time
	for _, sl := range v.slots {
		if !sl.rp.active { // only the writer sets it: safe to read unlocked here
			continue
		}
		if now.IsZero() {
			now = time.Now()
		}
		if d := sl.pump(now); !d.IsZero() && (due.IsZero() || d.Before(due)) {
			due = d
		}
	}
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
func (sl *slot) forward(it item) {
	defer it.p.release()
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.binding.Load() != it.b {
		return // the slot was re-pointed after this packet was queued: gated
	}
	bt := sl.track.bound.Load()
	if bt == nil {
		return // not connected yet
	}
	src := it.b.src
	if sl.rw == nil {
		sl.rw = media.NewRewriter(uint32(bt.ssrc), src.codec.ClockRate())
	}
	if sl.cur != it.b {
		sl.cur = it.b
		sl.rw.Switch()
		sl.waitKey = sl.kind == videoIdx
		sl.replayed = false
		sl.rp.active = false
		sl.reportAt = time.Time{} // the new source's clock: report at once
	}
	if sl.rp.active {
		return // the replay sends this packet from the cache, in source order
	}
	if sl.waitKey {
		if it.p.keyframe {
			sl.waitKey = false
		} else if src.gop != nil && sl.startReplay(time.Now()) {
			// The writer's pace sends the keyframe at once and the rest
			// paced, this packet included (it is in the cache).
			sl.waitKey = false
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
	sl.hdr = it.p.hdr
	sl.hdr.Extension, sl.hdr.Extensions = false, nil
	sl.hdr.Padding, sl.hdr.PaddingSize = false, 0
	now := time.Now() // once per packet: this clock read is a measurable share of forwarding
	if !sl.rw.Rewrite(&sl.hdr, now) {
		return
	}
	sl.hdr.PayloadType = bt.pt
	if !sl.send(bt, it.p.payload) {
		return
	}
	m := src.pub.room.s.m
	m.forwardedPackets[sl.kind].Inc()
	m.forwardedBytes[sl.kind].Add(float64(sl.hdr.MarshalSize() + len(it.p.payload)))
	sl.report(src, bt, now)
}

// send writes sl.hdr and payload and counts them for the sender reports. A
// write Pion dropped because the connection is not up yet un-binds the slot
// from its source (sl.cur), so the next packet starts over on a keyframe.
// Called by the writer with sl.mu held.
func (sl *slot) send(bt *boundTrack, payload []byte) bool {
	n, err := bt.w.WriteRTP(&sl.hdr, payload)
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

// retransmit answers one NACKed sequence number from the current source's
// shared cache, mapped back through the slot's rewriter: same SSRC, the
// sequence number the viewer asked for. Packets of an earlier source (before
// a switch) are not resent: the viewer restarted on a keyframe since.
func (sl *slot) retransmit(seq uint16) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	b := sl.binding.Load()
	bt := sl.track.bound.Load()
	if b == nil || b != sl.cur || sl.rw == nil || bt == nil {
		return
	}
	_, srcSeq, ok := sl.rw.SourceSeq(seq)
	if !ok {
		return
	}
	_, tsOff, ok := sl.rw.TimestampOffset()
	if !ok {
		return
	}
	buf := sl.viewer.scratch[:]
	n, ok := b.src.cache.Load().Get(srcSeq, buf)
	if !ok {
		b.src.nackUpstream(srcSeq) // the SFU never got it: ask the publisher
		return
	}
	hlen, err := sl.hdr.Unmarshal(buf[:n])
	if err != nil {
		return
	}
	end := n
	if sl.hdr.Padding {
		if pad := int(buf[n-1]); pad > 0 && hlen+pad <= n {
			end -= pad
		}
	}
	sl.hdr.Extension, sl.hdr.Extensions = false, nil
	sl.hdr.Padding, sl.hdr.PaddingSize = false, 0
	sl.hdr.Timestamp += tsOff
	payload := buf[hlen:end]
	if bt.rtxSSRC == 0 {
		// Same SSRC, the sequence number asked for.
		sl.hdr.SSRC, sl.hdr.SequenceNumber, sl.hdr.PayloadType = uint32(bt.ssrc), seq, bt.pt
		if sl.send(bt, payload) {
			sl.viewer.room.s.m.retransmitted.Inc()
		}
		return
	}
	// RTX (RFC 4588 §4): the original sequence number leads the payload,
	// on the RTX SSRC's own numbering. Not counted in the media SR.
	rtx := sl.viewer.rtxBuf[:2+len(payload)]
	binary.BigEndian.PutUint16(rtx, seq)
	copy(rtx[2:], payload)
	sl.hdr.SSRC, sl.hdr.SequenceNumber, sl.hdr.PayloadType = bt.rtxSSRC, sl.rtxSeq, bt.rtxPT
	sl.rtxSeq++
	if n, err := bt.w.WriteRTP(&sl.hdr, rtx); err == nil && n > 0 {
		sl.viewer.room.s.m.retransmitted.Inc()
	}
}

// readRTCP serves a slot's RTCP from the viewer until the connection
// closes.
//
// Why one goroutine per slot (a viewer costs 2×slots+1: these, and its
// writer): Pion's SRTCP session hands each compound packet to the read
// stream of every SSRC it names, and a v4 peer connection has no single
// place to read all of its RTCP; a stream nobody reads fills its bounded
// buffer and then drops, so a slot without a reader would lose its viewer's
// NACKs and PLIs. One goroutine polling every sender with read deadlines
// would add up to a polling period to every NACK's service time. A parked
// reader costs a few KiB of stack and no CPU; with the interceptors gone
// from subscriber connections (engine.go) there is no other per-viewer
// goroutine of ours.
func (sl *slot) readRTCP() {
	buf := make([]byte, defaultReceiveMTU)
	var fb media.Feedback
	for {
		n, _, err := sl.sender.Read(buf)
		if err != nil {
			return
		}
		if fb.Parse(buf[:n]) != nil {
			continue
		}
		sl.onFeedback(&fb, time.Now())
	}
}

// onFeedback acts on one compound packet's worth of a viewer's feedback,
// already bounded by media.Feedback (a hostile viewer's thousand-pair NACK
// costs at most media.MaxFeedbackNacks queue attempts): PLI/FIR become a
// coalesced keyframe request to the current source, NACKs are queued for the
// writer (which owns the rewriter that maps them back), and receiver reports
// give the viewer's round trip for sizing the source's cache. Feedback about
// other SSRCs is ignored.
func (sl *slot) onFeedback(fb *media.Feedback, now time.Time) {
	bt := sl.track.bound.Load()
	if bt == nil {
		return
	}
	ssrc := uint32(bt.ssrc)
	b := sl.binding.Load()
	for _, k := range fb.Keyframes {
		if k == ssrc && b != nil {
			b.src.requestKeyframe()
			break
		}
	}
	m := sl.viewer.room.s.m
	for _, n := range fb.Nacks {
		if n.MediaSSRC != ssrc {
			continue
		}
		m.nacksReceived.Inc()
		if !sl.viewer.push(item{sl: sl, nack: true, seq: n.Seq}) {
			break // the queue is full: the rest would be refused too
		}
	}
	for _, rr := range fb.Reports {
		if rr.SSRC != ssrc || b == nil {
			continue
		}
		if rtt, ok := media.RTT(rr, now); ok && rtt < 10*time.Second {
			b.src.noteRTT(rtt)
		}
	}
}

// slotTrack is the local track of one slot. Unlike TrackLocalStaticRTP it
// keeps the single binding it gets and writes header and payload as they
// are, so forwarding allocates nothing per packet.
type slotTrack struct {
	id, streamID string
	kind         webrtc.RTPCodecType
	mime         string
	bound        atomic.Pointer[boundTrack]
}

type boundTrack struct {
	w    webrtc.TrackLocalWriter
	ssrc webrtc.SSRC
	pt   uint8
	// RTX, when the viewer negotiated it: retransmissions go on rtxSSRC
	// with payload type rtxPT (0 when not negotiated).
	rtxSSRC uint32
	rtxPT   uint8
}

func (s *SFU) newSlotTrack(kind, seatIdx int) *slotTrack {
	t := &slotTrack{
		id:       fmt.Sprintf("seat%d-%s", seatIdx, kindNames[kind]),
		streamID: fmt.Sprintf("seat%d", seatIdx),
		kind:     webrtc.RTPCodecTypeAudio,
		mime:     webrtc.MimeTypeOpus,
	}
	if kind == videoIdx {
		t.kind = webrtc.RTPCodecTypeVideo
		t.mime = "video/" + s.videoCodec.String()
	}
	return t
}

func (t *slotTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, t.mime) {
			bt := &boundTrack{w: ctx.WriteStream(), ssrc: ctx.SSRC(), pt: uint8(c.PayloadType)}
			if rtx := ctx.SSRCRetransmission(); rtx != 0 {
				apt := fmt.Sprintf("apt=%d", c.PayloadType)
				for _, r := range ctx.CodecParameters() {
					if strings.EqualFold(r.MimeType, webrtc.MimeTypeRTX) && strings.Contains(r.SDPFmtpLine, apt) {
						bt.rtxSSRC, bt.rtxPT = uint32(rtx), uint8(r.PayloadType)
					}
				}
			}
			t.bound.Store(bt)
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}

func (t *slotTrack) Unbind(webrtc.TrackLocalContext) error {
	t.bound.Store(nil)
	return nil
}

func (t *slotTrack) ID() string                { return t.id }
func (t *slotTrack) RID() string               { return "" }
func (t *slotTrack) StreamID() string          { return t.streamID }
func (t *slotTrack) Kind() webrtc.RTPCodecType { return t.kind }
