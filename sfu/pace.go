package sfu

import (
	"encoding/binary"
	"time"
)

// Replay pacing.
//
// A video slot that starts (a new viewer, or a slot re-pointed to another
// source) is fed the source's cached group of pictures: its keyframe and
// everything after it, up to a couple of seconds of video (hundreds of KB).
// Written at line rate that burst overflows the viewer's receive buffer and,
// on a real mobile link, the path itself. So only the keyframe goes out at
// once (a new viewer must see a picture within 100 ms); the rest follows at
// replayFactor times the group's own bitrate, within [replayMinRate,
// replayMaxRate], in bursts of at most replayBurst worth of tokens.
//
// Why a multiple of the track's rate rather than one fixed cap: while the
// replay runs, live packets pile up behind it (they are sent from the cache,
// in order, by the replay itself), so it catches up with the live edge after
// span/(factor-1) — a third of the group's length at 4×, whatever the
// bitrate; a fixed cap near a high-bitrate track's own rate would take
// seconds. The floor keeps tiny groups quick; the ceiling bounds what one
// join can cost a link (the cache holds at most media.DefaultGOPBytes, 1 MiB,
// so even at the ceiling that is about half a second).
//
// The pacing runs in whichever pool writer serves the viewer (writers.go):
// it sends a slot's due burst between draining the queue, and the viewer's
// one timer brings it back when the next slot is due, so a replaying slot
// delays the other slots' live packets by at most one burst (replayBurst of
// writes, well under a millisecond), and no goroutine is added per slot.
// How many replays run at once, node-wide, is pace_budget.go's. While a slot replays,
// its queued live packets are dropped: the reader puts every packet in the
// group cache before it queues it, so the replay reaches each of them in
// source order and hands over to the queue where it caught up.
const (
	replayFactor  = 4
	replayMinRate = 2_000_000 / 8  // bytes per second
	replayMaxRate = 16_000_000 / 8 // bytes per second
	// replayMinSpan floors the span the group's rate is measured over, so
	// a group that is little more than its keyframe does not count as a
	// huge bitrate.
	replayMinSpan = 500 * time.Millisecond
	// replayBurst is how long a burst's worth of tokens lasts at the
	// pacing rate: bursts of 5 ms keep the gaps short for the viewer's
	// jitter buffer and the writes between two queue drains few.
	replayBurst = 5 * time.Millisecond
)

// replay is a video slot's paced replay of its source's cached group of
// pictures. Only the viewer's writer touches it, with sl.mu held. Whether
// one is running is slot.replaying, among the slot's hot fields (the
// writer also reads it unlocked, being its only writer).
type replay struct {
	keyPhase bool   // still sending the keyframe's own packets: unpaced
	first    uint16 // source seq of the group's first packet, to notice a new group
	keyTS    uint32 // RTP timestamp of the keyframe
	next     int    // index in the group of the next packet to send
	last     uint16 // source seq of the last packet sent
	rate     float64
	burst    float64
	tokens   float64 // bytes; negative after the keyframe went out unpaced
	at       time.Time
	// waiting: the node's replay budget has no room for it yet
	// (pace_budget.go); it starts, measured afresh, when it has.
	waiting  bool
	waitFrom time.Time

	// Scratch of one pump, read by the cache walk (step).
	idx     int
	now     time.Time
	blocked bool // out of tokens
	failed  bool // a write failed
	bytes   int  // measure: the group's bytes
	lastTS  uint32
}

// startReplay begins a paced replay of src's cached group, measuring the
// group's bitrate for the pacing rate; when the node's replay budget has no
// room for it, the replay waits its turn (pace_budget.go). Called by the
// writer with sl.mu held.
func (sl *slot) startReplay(now time.Time) bool {
	sl.endReplay()
	if sl.viewer.upState.Load() == 2 {
		return false // the viewer is gone: it must hold no turn (viewerGone)
	}
	if !sl.measureReplay(now) {
		return false
	}
	rp := &sl.rp
	rp.waitFrom = now
	if !sl.budget().take(sl, rp.rate) {
		rp.waiting = true
		return true
	}
	sl.viewer.room.s.m.ov.replayWait.Observe(0)
	return true
}

// measureReplay resets the slot's replay to the start of src's cached
// group and measures it; false when the cache is empty.
func (sl *slot) measureReplay(now time.Time) bool {
	src := sl.cur.src
	if sl.measureFn == nil {
		sl.measureFn, sl.stepFn = sl.measure, sl.step
	}
	rp := &sl.rp
	*rp = replay{}
	sl.replaying = false
	if src.gop.Replay(sl.measureFn) == 0 {
		return false
	}
	span := time.Duration(rp.lastTS-rp.keyTS) * time.Second / time.Duration(src.codec.ClockRate())
	span = max(span, replayMinSpan)
	rate := replayFactor * float64(rp.bytes) / span.Seconds()
	rp.rate = min(max(rate, replayMinRate), replayMaxRate)
	rp.burst = max(rp.rate*replayBurst.Seconds(), 2*defaultReceiveMTU)
	rp.tokens, rp.at = rp.burst, now
	rp.keyPhase, sl.replaying = true, true
	return true
}

// endReplay stops the slot's replay, if any, and gives back its turn or
// its place in the queue. Called with sl.mu held.
func (sl *slot) endReplay() {
	if sl.replaying {
		sl.replaying, sl.rp.waiting = false, false
		sl.budget().end(sl)
	}
}

func (sl *slot) budget() *replayBudget { return &sl.viewer.room.s.ov.replays }

// measure is the cache walk of startReplay: the group's first packet, its
// keyframe's timestamp and its size and timestamp span.
func (sl *slot) measure(pkt []byte) bool {
	rp := &sl.rp
	if len(pkt) < 12 {
		return true
	}
	ts := binary.BigEndian.Uint32(pkt[4:8])
	if rp.idx == 0 {
		rp.first, rp.keyTS = binary.BigEndian.Uint16(pkt[2:4]), ts
	}
	rp.idx++
	rp.bytes += len(pkt)
	if int32(ts-rp.lastTS) > 0 || rp.idx == 1 {
		rp.lastTS = ts
	}
	return true
}

// cancelReplay stops a replay; the slot starts over on the next keyframe,
// on a new mapping: the packets skipped up to it were never sent, and the
// viewer must see no sequence gap (it would NACK packets that no cache holds
// any more, and the keyframe supersedes them anyway).
func (sl *slot) cancelReplay() {
	sl.endReplay()
	sl.waitKey = true
	sl.rw.Switch()
}

// pump sends what the slot's replay may send now and returns when it may
// send more (zero: the replay is over). Called by the writer.
func (sl *slot) pump(now time.Time) time.Time {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	rp := &sl.rp
	if !sl.replaying {
		return time.Time{}
	}
	if sl.binding.Load() != sl.cur || sl.cur == nil {
		// Re-pointed: the replay is gated at once. The new binding's
		// first packet starts the slot over (forward).
		sl.endReplay()
		return time.Time{}
	}
	if rp.waiting {
		if !sl.budget().take(sl, rp.rate) {
			return now.Add(replayPoll)
		}
		// Its turn: the cache moved on while it waited, so measure
		// afresh (its turn is kept at the rate it queued with).
		waited := now.Sub(rp.waitFrom)
		if !sl.measureReplay(now) {
			sl.budget().end(sl)
			sl.cancelReplay()
			sl.cur.src.requestKeyframe()
			return time.Time{}
		}
		sl.viewer.room.s.m.ov.replayWait.Observe(waited.Seconds())
	}
	src := sl.cur.src
	if dt := now.Sub(rp.at); dt > 0 {
		rp.tokens = min(rp.tokens+rp.rate*dt.Seconds(), rp.burst)
	}
	rp.at = now
	rp.idx, rp.now, rp.blocked, rp.failed = 0, now, false, false
	n := src.gop.Replay(sl.stepFn)
	switch {
	case rp.failed:
		sl.endReplay()
		if sl.cur != nil { // a write error, not "the connection is not up yet"
			sl.cancelReplay()
		}
		return time.Time{}
	case n == 0:
		// The cache overflowed and emptied: the rest of the group is gone,
		// so start over on the next keyframe, asked for now.
		sl.cancelReplay()
		src.requestKeyframe()
		return time.Time{}
	case !rp.blocked:
		// Caught up with the live edge: queued packets up to rp.last were
		// sent from the cache.
		sl.endReplay()
		sl.replayed, sl.replayedTo = true, rp.last
		return time.Time{}
	}
	wait := time.Duration(-rp.tokens / rp.rate * float64(time.Second))
	return now.Add(wait + time.Microsecond)
}

// step is the cache walk of pump: skip what was sent, send while tokens
// last. A new group in the cache (a keyframe arrived and the old group was
// dropped) is followed from its start: it is later in source order than
// anything sent, so the rewriter still sees the source's order.
//
// (The old group's rest cannot be kept: media.GOPCache pins a group only
// for the length of one Replay call, and the NACK cache holds well under a
// second. Skipping it costs the viewer nothing it can show — the new
// keyframe supersedes it — and brings it to the live edge sooner.)
func (sl *slot) step(pkt []byte) bool {
	rp := &sl.rp
	i := rp.idx
	rp.idx++
	if len(pkt) < 12 {
		if i >= rp.next {
			rp.next = i + 1
		}
		return true
	}
	if i == 0 {
		if seq := binary.BigEndian.Uint16(pkt[2:4]); seq != rp.first {
			// A newer keyframe started a new group and the cache dropped
			// the old one: its unsent rest is stale anyway. Go on from the
			// new keyframe, rebased so the viewer sees no sequence gap (a
			// gap would be NACKed for packets no cache holds any more).
			rp.first, rp.next, rp.keyPhase = seq, 0, false
			sl.rw.Switch()
			sl.reportAt = time.Time{} // a new timestamp mapping: report it soon
		}
	}
	if i < rp.next {
		return true
	}
	ts := binary.BigEndian.Uint32(pkt[4:8])
	if rp.keyPhase && ts != rp.keyTS {
		rp.keyPhase = false
	}
	if !rp.keyPhase && rp.tokens <= 0 {
		rp.blocked = true
		return false
	}
	bt := sl.bound.Load()
	if bt == nil {
		rp.failed = true
		return false
	}
	rp.next = i + 1
	hlen, err := sl.hdr.Unmarshal(pkt)
	if err != nil {
		return true
	}
	end := len(pkt)
	if sl.hdr.Padding {
		if pad := int(pkt[end-1]); pad > 0 && hlen+pad <= end {
			end -= pad
		}
	}
	seq := sl.hdr.SequenceNumber
	sl.hdr.Extension, sl.hdr.Extensions = false, nil
	sl.hdr.Padding, sl.hdr.PaddingSize = false, 0
	if !sl.rw.Rewrite(&sl.hdr, rp.now) {
		return true
	}
	sl.hdr.PayloadType = bt.pt
	// A replay after a re-base sends frames under a new timestamp mapping:
	// its sender report goes first (report.go rate-limits the rest), or the
	// viewer maps these frames through the old one and plays them out of
	// sync with audio — by the length of the pause, until live forwarding
	// would have sent it.
	sl.report(sl.cur.src, bt, rp.now)
	if !sl.send(bt, &sl.hdr, pkt[hlen:end]) {
		rp.failed = true
		return false
	}
	size := sl.hdr.MarshalSize() + end - hlen
	rp.tokens -= float64(size)
	rp.last = seq
	s := sl.viewer.room.s
	s.m.forwardedPackets[videoIdx].Inc()
	s.m.forwardedBytes[videoIdx].Add(float64(size))
	s.ov.replayed.Add(1) // not what the viewer will cost: overload.go
	return true
}
