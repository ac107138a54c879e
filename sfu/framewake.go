package sfu

import (
	"sync/atomic"
	"time"
)

// Frame-gathered wake-ups (issue 16). A video frame arrives as a burst of
// packets. Waking every viewer's writer for each of them made each writer
// turn carry one datagram per viewer, so every datagram was its own entry
// in sendmmsg and went down the kernel's UDP stack alone. The reader now
// queues a frame's packets for the viewers without waking them and wakes
// them once, at the frame's end: each writer turn then encrypts the whole
// frame for one viewer back to back, and the frame's equal-sized packets
// go to that viewer as one UDP GSO entry (egress_gso.go). This is what the
// bench's raw-batched baseline does (bench/baseline/rawbatch.go).
//
// A frame ends at its marker bit (RFC 3550 §5.1; the video payload formats
// set it on a frame's last packet). So that a lost or never-set marker
// cannot hold packets back, a frame also ends when a packet of another
// timestamp arrives, after frameWakeMax packets, and frameWakeAfter after
// it opened (a timer, which wakes the viewers and ends the frame at its
// next packet). Audio, one packet a frame, wakes at once.
//
// The latency this adds is the publisher's spread of one frame's packets,
// and never more than frameWakeAfter: nothing for a burst, a few
// milliseconds for a paced one (libwebrtc's pacer spreads a large frame
// over several).

const (
	// frameWakeMax bounds a frame's packets queued before a wake (a
	// keyframe's first packets go out before its last arrives). Under
	// the viewer queue (defaultViewerQueue) and GSO's 64 segments.
	frameWakeMax = 32
	// frameWakeAfter bounds how long a frame's packets wait for its end.
	frameWakeAfter = 5 * time.Millisecond
)

// frameGather is an up-track's open frame. All but pending are the
// reader's.
type frameGather struct {
	open    bool   // packets of the frame were queued and no wake followed
	ts      uint32 // its RTP timestamp
	count   int    // its packets queued so far
	timer   *time.Timer
	pending atomic.Bool // open, as the timer sees it
	overdue atomic.Bool // the timer woke the viewers: the frame ends at its next packet
}

// endsFrame decides, for the packet about to be offered, whether the
// viewers are woken after it. Called by the reader only.
func (src *source) endsFrame(pk *packet) bool {
	f := &src.frame
	if src.kind != videoIdx || pk.hdr.Marker || f.count+1 >= frameWakeMax ||
		(f.open && (pk.hdr.Timestamp != f.ts || f.overdue.Load())) {
		if f.open {
			f.open, f.count = false, 0
			f.pending.Store(false)
			f.overdue.Store(false)
			f.timer.Stop()
		}
		return true
	}
	if !f.open {
		f.open, f.ts = true, pk.hdr.Timestamp
		f.pending.Store(true)
		if f.timer == nil {
			f.timer = time.AfterFunc(frameWakeAfter, src.frameOverdue)
		} else {
			f.timer.Reset(frameWakeAfter)
		}
	}
	f.count++
	return false
}

// frameOverdue wakes the viewers of a frame still open frameWakeAfter
// after it opened. A wake racing the reader's own is harmless: a viewer
// with nothing queued costs its writer an empty turn.
func (src *source) frameOverdue() {
	if src.frame.pending.Load() {
		src.frame.overdue.Store(true)
		src.wakeSinks()
	}
}

// endFrames wakes the viewers of an open frame when the up-track ends, and
// stops the timer. Called by the reader as it exits.
func (src *source) endFrames() {
	f := &src.frame
	if f.timer != nil {
		f.timer.Stop()
	}
	if f.open {
		f.open = false
		f.pending.Store(false)
		src.wakeSinks()
	}
}

func (src *source) wakeSinks() {
	for _, sl := range *src.sinks.Load() {
		sl.viewer.schedule()
	}
}
