package sfu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/media"
)

// What one up-track asks of its publisher: keyframes (coalesced), the packets
// viewers NACKed that the SFU never got, and — through Pion's receiver-report
// interceptor on the publish connection — reception reports. Its sender
// reports are read here too: viewers' sender reports are built from them.

const (
	// upNackEvery is how soon the same missing packet may be asked for
	// again, whichever viewer asks: about one loopback-to-WAN round trip.
	upNackEvery = 100 * time.Millisecond
	// upNackMemory is how many recently asked sequence numbers are
	// remembered for that de-duplication (a power of two).
	upNackMemory = 256
	// resizeEvery is how often an up-track's cache is re-sized from its
	// rate and its viewers' round trip.
	resizeEvery = time.Second
)

// upstream is a source's feedback toward its publisher. The keyframe timer
// is its only goroutine-like resource: a time.AfterFunc whose callback runs
// as a goroutine the peer owns (enter/exit), stopped when the track ends.
type upstream struct {
	kf      *media.KeyframeThrottle
	mu      sync.Mutex
	timer   *time.Timer // armed while a coalesced request waits for its window
	stopped bool
	asked   [upNackMemory]struct {
		seq uint16
		at  time.Time
	}

	lastPLI atomic.Int64                       // unix nanos of the last PLI sent (tests, debugging)
	report  atomic.Pointer[media.SourceReport] // the publisher's last sender report
	rtt     atomic.Int64                       // the largest viewer RTT (ns) since the last resize

	// Reader-owned cache sizing state.
	resizeAt time.Time
	packets  int
	bytes    int
	lastRTT  time.Duration
	scratch  [media.MaxPacketSize]byte
}

func newSource(p *publisher, kind int, codec media.Codec, track *webrtc.TrackRemote, in rtpReader) *source {
	src := &source{pub: p, kind: kind, codec: codec, track: track, in: in, seatIdx: -1, layer: layerHigh}
	src.cache.Store(media.NewCache(cacheSize[kind]))
	src.sinks.Store(new([]*slot))
	src.up.kf = media.NewKeyframeThrottle(keyframeInterval)
	return src
}

// requestKeyframe asks the publisher for a keyframe. Requests from any
// number of viewers are coalesced: at most one PLI per keyframeInterval, and
// a request that falls inside the window is granted when the window ends (a
// timer), so every viewer that asked gets the keyframe it waits for without
// having to ask again. Safe from any goroutine.
func (src *source) requestKeyframe() {
	if src.kind != videoIdx {
		return
	}
	if src.up.kf.Request(time.Now()) {
		src.sendPLI()
		return
	}
	src.armKeyframeTimer()
}

func (src *source) armKeyframeTimer() {
	u := &src.up
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.stopped || u.timer != nil {
		return
	}
	due := u.kf.Due()
	if due.IsZero() {
		return
	}
	u.timer = time.AfterFunc(time.Until(due), src.keyframeDue)
}

// keyframeDue runs when a coalesced request's window has ended.
func (src *source) keyframeDue() {
	u := &src.up
	u.mu.Lock()
	u.timer = nil
	stopped := u.stopped
	u.mu.Unlock()
	if stopped || src.pub.peer == nil || !src.pub.peer.enter() {
		return
	}
	defer src.pub.peer.exit()
	if u.kf.Pending(time.Now()) {
		src.sendPLI()
	}
	src.armKeyframeTimer() // a request that raced this grant waits for the next window
}

func (src *source) sendPLI() {
	if !src.pub.room.s.allowKeyframeRequest() {
		return // over the node's budget (overload.go); the slot asks again
	}
	src.up.lastPLI.Store(time.Now().UnixNano())
	if src.track == nil {
		return // benchmarks: no connection
	}
	err := src.pub.peer.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(src.track.SSRC())}})
	if err == nil {
		src.pub.room.s.m.keyframeRequests.Inc()
	}
}

// stop ends the source's upstream feedback: no keyframe timer fires after
// it (a callback already running exits through the peer's wait group).
func (u *upstream) stop() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.stopped = true
	if u.timer != nil {
		u.timer.Stop()
		u.timer = nil
	}
}

// nackUpstream asks the publisher again for a packet a viewer NACKed that is
// not in the cache although it is recent enough to be: the SFU never got it.
// Packets older than the cache covers are too old to matter; each sequence
// number is asked for at most once per upNackEvery however many viewers miss
// it, so a NACK storm costs the publisher nothing more. Called by writers.
func (src *source) nackUpstream(seq uint16) {
	if src.track == nil {
		return
	}
	c := src.cache.Load()
	newest, ok := c.Newest()
	if !ok {
		return
	}
	if d := int(int16(newest - seq)); d <= 0 || d >= c.Size() {
		return
	}
	now := time.Now()
	u := &src.up
	u.mu.Lock()
	e := &u.asked[seq%upNackMemory]
	if e.seq == seq && !e.at.IsZero() && now.Sub(e.at) < upNackEvery {
		u.mu.Unlock()
		return
	}
	e.seq, e.at = seq, now
	u.mu.Unlock()
	_ = src.pub.peer.pc.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{
		MediaSSRC: uint32(src.track.SSRC()),
		Nacks:     []rtcp.NackPair{{PacketID: seq}},
	}})
}

// readRTCP reads the up-track's RTCP from the publisher until the connection
// closes. Reading is what lets Pion's receiver-report interceptor see the
// publisher's sender reports (for LSR/DLSR); the SFU keeps the last one to
// translate into its viewers' sender reports.
func (src *source) readRTCP(recv *webrtc.RTPReceiver) {
	buf := make([]byte, defaultReceiveMTU)
	var fb media.Feedback
	ssrc := uint32(src.track.SSRC())
	for {
		// A simulcast layer's RTCP is read per RID: the receiver carries
		// every layer of the m-line.
		var n int
		var err error
		if src.rid != "" {
			n, _, err = recv.ReadSimulcast(buf, src.rid)
		} else {
			n, _, err = recv.Read(buf)
		}
		if err != nil {
			return
		}
		if fb.Parse(buf[:n]) != nil {
			continue
		}
		for i := range fb.SenderReports {
			if sr := &fb.SenderReports[i]; sr.SSRC == ssrc {
				src.onSenderReport(sr.NTPTime, sr.RTPTime, time.Now())
			}
		}
	}
}

func (src *source) onSenderReport(ntp uint64, ts uint32, now time.Time) {
	src.up.report.Store(&media.SourceReport{NTP: ntp, RTP: ts})
	// The least-delayed report tells the clock difference best: keep the
	// largest (publisher − us) seen.
	skew := int64(media.NTPToTime(ntp).Sub(now))
	p := src.pub
	for {
		old := p.skew.Load()
		if p.skewSet.Load() && skew <= old {
			return
		}
		if p.skew.CompareAndSwap(old, skew) {
			p.skewSet.Store(true)
			return
		}
	}
}

// noteRTT records a viewer's round trip (from its receiver report of this
// source's slot) for the next cache sizing. Safe from any goroutine.
func (src *source) noteRTT(rtt time.Duration) {
	for {
		old := src.up.rtt.Load()
		if int64(rtt) <= old || src.up.rtt.CompareAndSwap(old, int64(rtt)) {
			return
		}
	}
}

// resizeCache re-sizes the up-track's cache about once a second from the
// packet rate and the largest viewer round trip seen (media.CacheSizeFor,
// bounded): a viewer far away needs packets kept longer. It only grows, or
// shrinks to a quarter or less, so the size does not flap. The recent packets
// are carried over. Called by the reader for every packet.
func (src *source) resizeCache(n int) {
	u := &src.up
	u.packets++
	u.bytes += n
	if u.packets&15 != 0 {
		return // a clock read every 16 packets: a 30 pps layer is measured within the second
	}
	now := time.Now()
	if u.resizeAt.IsZero() {
		u.resizeAt, u.packets, u.bytes = now, 0, 0
		return
	}
	elapsed := now.Sub(u.resizeAt)
	if elapsed < resizeEvery {
		return
	}
	pps := float64(u.packets) / elapsed.Seconds()
	if u.bytes > 0 {
		// Kept over a pause (a layer the publisher stopped): what the
		// layer costs when it runs is what the allocator needs.
		src.bitrate.Store(int64(float64(u.bytes*8) / elapsed.Seconds()))
	}
	u.resizeAt, u.packets, u.bytes = now, 0, 0
	if rtt := time.Duration(u.rtt.Swap(0)); rtt > 0 {
		u.lastRTT = rtt
	}
	old := src.cache.Load()
	want := media.CacheSizeFor(pps, u.lastRTT)
	if want <= old.Size() && want*4 > old.Size() {
		return
	}
	c := media.NewCache(want)
	if newest, ok := old.Newest(); ok {
		for i := min(old.Size(), c.Size()) - 1; i >= 0; i-- {
			seq := newest - uint16(i)
			if n, ok := old.Get(seq, u.scratch[:]); ok {
				c.Put(seq, u.scratch[:n])
			}
		}
	}
	src.cache.Store(c)
}
