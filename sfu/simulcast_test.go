package sfu

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/media"
	"github.com/seatsfu/seatsfu/seat"
)

// The simulcast harness drives the real selection and forwarding path —
// ingest, offer/promote, the viewers' queues, writers and rewriters — with
// three in-memory layers of one publisher fed by the test itself and
// recording down-track writers, no Pion connection.

// sent is one packet a viewer's slot wrote.
type sent struct {
	ssrc, ts   uint32
	seq        uint16
	layer      int // which layer the payload came from
	frame      int
	keyStart   bool // the first packet of a keyframe
	retransmit bool
}

type recordingWriter struct {
	codec media.Codec
	mu    sync.Mutex
	pkts  []sent
}

func (w *recordingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := sent{ssrc: h.SSRC, ts: h.Timestamp, seq: h.SequenceNumber}
	if len(payload) >= 6 {
		s.layer, s.frame = int(payload[2]), int(payload[3])<<16|int(payload[4])<<8|int(payload[5])
		s.keyStart = media.IsKeyframe(w.codec, payload)
	}
	w.pkts = append(w.pkts, s)
	return h.MarshalSize() + len(payload), nil
}

func (w *recordingWriter) Write(b []byte) (int, error) { return len(b), nil }

func (w *recordingWriter) packets() []sent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]sent(nil), w.pkts...)
}

// layered is a room whose seat 0 shows a three-layer simulcast video.
type layered struct {
	r       *Room
	pub     *publisher
	layers  [numLayers]*source
	seq     [numLayers]uint16
	ts      [numLayers]uint32
	frame   int
	viewers []*viewer
	writers []*recordingWriter
	// keyEvery: each layer sends a keyframe every keyEvery frames, the
	// layers staggered; and on request (a PLI) on its next frame.
	keyEvery int
	plis     [numLayers]int64
	// deaf[l]: how many more of layer l's PLIs go unanswered, as a
	// publisher's may.
	deaf  [numLayers]int
	codec media.Codec
}

func newLayered(t *testing.T, viewers int, hooks peerHooks) *layered {
	t.Helper()
	return newLayeredCodec(t, viewers, hooks, media.CodecVP8)
}

// newLayeredCodec is newLayered for a VP8 or H.264 room.
func newLayeredCodec(t *testing.T, viewers int, hooks peerHooks, codec media.Codec) *layered {
	t.Helper()
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &SFU{m: m, log: slog.Default(), cfg: Config{ViewerQueue: 1024}, videoCodec: codec}
	withWriters(t, s)
	x := newLayeredIn(t, s, "sim", viewers, hooks)
	t.Cleanup(x.stop)
	return x
}

// newLayeredIn is newLayered for room id of s (several rooms may share
// one SFU); the caller stops it.
func newLayeredIn(t *testing.T, s *SFU, id string, viewers int, hooks peerHooks) *layered {
	t.Helper()
	codec := s.videoCodec
	sr, err := seat.New(seat.Config{RoomID: id, MaxSeats: 2, Clock: realClock{},
		Owner: seat.User{UserID: "owner-" + id, Role: seat.RoleOwner}})
	if err != nil {
		t.Fatal(err)
	}
	r := newRoom(s, sr, RoomConfig{Notifier: nopNotifier{}})
	x := &layered{r: r, keyEvery: 30, codec: codec}
	x.pub = &publisher{room: r, user: "owner-" + id, peer: &Peer{}, hooks: hooks, layersSent: LayerSet{High: true, Medium: true, Low: true}}
	if hooks.onLayers != nil {
		x.pub.layers = newCoalescer(x.pub.peer, 0, x.pub.reportLayers)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	r.mu.Lock()
	for l := range numLayers {
		src := newSource(x.pub, videoIdx, codec, nil, nil)
		src.gop = media.NewGOPCache(0, 0)
		src.layer, src.rid = l, [numLayers]string{"q", "h", "f"}[l]
		if !x.pub.addSource(src, true) {
			t.Fatal("layer refused")
		}
		x.layers[l] = src
		x.seq[l], x.ts[l] = uint16(rng.Uint32()), rng.Uint32() // independent numbering, as browsers' layers have
	}
	r.publishers[x.pub.user] = x.pub
	r.seats[0].src[videoIdx] = x.pub.sources[videoIdx]
	x.pub.sources[videoIdx].seatIdx = 0
	for i := range viewers {
		v := newViewer(r, fmt.Sprintf("v%d", i), &Peer{}, 1024)
		v.hooks = hooks
		if hooks.onQuality != nil {
			v.quality = newCoalescer(v.peer, qualityEvery, v.reportQuality)
		}
		v.peer.viewer = v
		sl := newSlot(v, videoIdx, 0, s.newSlotTrack(videoIdx, 0))
		w := &recordingWriter{codec: codec}
		sl.track.bound.Store(&boundTrack{w: w, ssrc: webrtc.SSRC(5000 + i), pt: 96})
		v.slots = []*slot{sl}
		r.viewers[v] = struct{}{}
		r.seats[0].slots[videoIdx] = append(r.seats[0].slots[videoIdx], sl)
		sl.repoint(r.seats[0].src[videoIdx])
		x.viewers = append(x.viewers, v)
		x.writers = append(x.writers, w)
	}
	r.refreshSinks(r.seats[0].src[videoIdx])
	r.mu.Unlock()
	return x
}

func (x *layered) stop() {
	x.r.mu.Lock()
	for _, v := range x.viewers {
		x.r.detachViewerLocked(v)
	}
	x.r.mu.Unlock()
	x.pub.layers.stop()
}

// sendFrame sends one frame of every layer: parts packets each, a keyframe
// on the layer's schedule or when it was asked for one.
func (x *layered) sendFrame(parts int) {
	x.frame++
	for l, src := range x.layers {
		key := (x.frame+l*x.keyEvery/numLayers)%x.keyEvery == 0
		if pli := src.up.lastPLI.Load(); pli != x.plis[l] {
			x.plis[l] = pli
			if x.deaf[l] > 0 {
				x.deaf[l]--
			} else {
				key = true
			}
		}
		x.ts[l] += 3000
		for part := range parts {
			x.seq[l]++
			payload := make([]byte, 100+100*l)
			x.descriptor(payload, part == 0, key)
			payload[2] = byte(l)
			payload[3], payload[4], payload[5] = byte(x.frame>>16), byte(x.frame>>8), byte(x.frame)
			pk := getPacket()
			h := rtp.Header{Version: 2, PayloadType: 96, SSRC: 100 + uint32(l), SequenceNumber: x.seq[l], Timestamp: x.ts[l], Marker: part == parts-1}
			n, err := (&rtp.Packet{Header: h, Payload: payload}).MarshalTo(pk.buf[:])
			if err != nil || !pk.parse(n) {
				panic("test packet")
			}
			src.ingest(pk, n)
			pk.release()
		}
	}
}

// descriptor writes the payload's first two bytes: for VP8 the payload
// descriptor and the keyframe bit; for H.264 a frame starts with an SPS on
// a keyframe (a decoder's starting point), else with an FU-A start of a
// non-IDR slice, and continues in FU-A fragments (of the IDR on a keyframe:
// not starting points).
func (x *layered) descriptor(p []byte, first, key bool) {
	if x.codec == media.CodecH264 {
		switch {
		case first && key:
			p[0], p[1] = 0x67, 0x42 // SPS
		case first:
			p[0], p[1] = 0x7c, 0x81 // FU-A, S=1, non-IDR
		case key:
			p[0], p[1] = 0x7c, 0x05 // FU-A continuation of the IDR
		default:
			p[0], p[1] = 0x7c, 0x01
		}
		return
	}
	p[0], p[1] = 0x00, 0x01 // VP8: continuation, inter
	if first {
		p[0] = 0x10
		if key {
			p[1] = 0x00
		}
	}
}

// removeLayer ends layer l's up-track and, when it was the primary, points
// the seat at the next, as the room's reconcile would. Called with r.mu
// held.
func (x *layered) removeLayer(l int) {
	r, old := x.r, x.pub.sources[videoIdx]
	x.pub.removeSource(x.layers[l])
	if next := x.pub.sources[videoIdx]; next != old && next != nil {
		next.seatIdx = 0
		r.seats[0].src[videoIdx] = next
		r.refreshSinks(next)
		r.reselectSeat(0)
	}
}

// setWant is rtc.setQuality for viewer i.
func (x *layered) setWant(t *testing.T, i int, q Quality) {
	t.Helper()
	if err := x.viewers[i].peer.SetQuality(0, q); err != nil {
		t.Fatal(err)
	}
}

// bound is the layer viewer i's slot carries, -1 for none.
func (x *layered) bound(i int) int {
	if b := x.viewers[i].slots[0].binding.Load(); b != nil {
		return b.src.layer
	}
	return -1
}

// until sends frames until cond holds, failing after max frames.
func (x *layered) until(t *testing.T, max int, what string, cond func() bool) {
	t.Helper()
	for range max {
		if cond() {
			return
		}
		x.sendFrame(3)
	}
	t.Fatalf("after %d frames: not %s", max, what)
}

// settled waits for viewer i's writer to have written n packets.
func (x *layered) settled(t *testing.T, i, n int) {
	t.Helper()
	eventually(t, 5*time.Second, "the writer to catch up", func() bool { return len(x.writers[i].packets()) >= n })
}

func TestHundredForcedLayerSwitchesLandOnKeyframesSeamlessly(t *testing.T) {
	for _, codec := range []media.Codec{media.CodecVP8, media.CodecH264} {
		t.Run(codec.String(), func(t *testing.T) { hundredSwitches(t, codec) })
	}
}

func hundredSwitches(t *testing.T, codec media.Codec) {
	x := newLayeredCodec(t, 1, peerHooks{}, codec)
	eventually(t, 5*time.Second, "forwarding", func() bool {
		x.sendFrame(3)
		return len(x.writers[0].packets()) > 10
	})
	qualities := [numLayers]Quality{QualityLow, QualityMedium, QualityHigh}
	rng := rand.New(rand.NewPCG(3, 4))
	want := layerHigh
	for i := range 100 {
		next := (want + 1 + rng.IntN(numLayers-1)) % numLayers // another layer
		x.setWant(t, 0, qualities[next])
		x.until(t, 2*x.keyEvery, fmt.Sprintf("switch %d to layer %d", i, next), func() bool { return x.bound(0) == next })
		// The test feeds packets far faster than real time: let the
		// writer put the switch on the wire before deciding the next.
		eventually(t, 5*time.Second, "the switch written", func() bool {
			p := x.writers[0].packets()
			return len(p) > 0 && p[len(p)-1].layer == next
		})
		want = next
		// A few frames on the new layer before the next switch, some
		// switches right at its keyframe.
		for range rng.IntN(4) {
			x.sendFrame(3)
		}
	}
	x.sendFrame(3)
	// The writer runs on its own: the last frame is its last 3 packets.
	ok := false
	for deadline := time.Now().Add(5 * time.Second); !ok && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		p := x.writers[0].packets()
		ok = len(p) > 3 && p[len(p)-1].frame == x.frame && p[len(p)-3].frame == x.frame
	}
	if !ok {
		p := x.writers[0].packets()
		t.Fatalf("the last frame %d was not written: the writer's last packets %+v", x.frame, p[max(0, len(p)-6):])
	}
	pkts := x.writers[0].packets()

	switches := 0
	for i := 1; i < len(pkts); i++ {
		prev, p := pkts[i-1], pkts[i]
		if p.ssrc != pkts[0].ssrc {
			t.Fatalf("packet %d: SSRC %d, the slot's is %d", i, p.ssrc, pkts[0].ssrc)
		}
		if p.seq != prev.seq+1 {
			t.Fatalf("packet %d: seq %d after %d (layers %d→%d)", i, p.seq, prev.seq, prev.layer, p.layer)
		}
		if int32(p.ts-prev.ts) < 0 {
			t.Fatalf("packet %d: timestamp %d went back from %d (layers %d→%d)", i, p.ts, prev.ts, prev.layer, p.layer)
		}
		if p.layer != prev.layer {
			switches++
			if !p.keyStart {
				t.Fatalf("packet %d: switch %d→%d lands on frame %d, not a keyframe", i, prev.layer, p.layer, p.frame)
			}
		}
	}
	if switches != 100 {
		t.Fatalf("%d switches on the wire, want 100", switches)
	}
	if n := counterValue(t, x.r.s.m.layerSwitches[switchUp]) + counterValue(t, x.r.s.m.layerSwitches[switchDown]); n != 100 {
		t.Fatalf("layer_switches_total %v, want 100", n)
	}
}

// A switch whose keyframe request goes unanswered asks again: with the
// layers sending no keyframe of their own and the first PLI to the low
// layer ignored, the slot still lands on low.
func TestAPendingSwitchAsksAgainForItsKeyframe(t *testing.T) {
	x := newLayered(t, 1, peerHooks{})
	eventually(t, 5*time.Second, "forwarding", func() bool {
		x.sendFrame(3)
		return len(x.writers[0].packets()) > 10
	})
	x.keyEvery = 1 << 30 // from now on, keyframes only when asked
	x.deaf[layerLow] = 1
	x.setWant(t, 0, QualityLow)
	eventually(t, 10*time.Second, "the switch to low", func() bool {
		x.sendFrame(3)
		return x.bound(0) == layerLow
	})
	if x.deaf[layerLow] != 0 {
		t.Fatal("landed on low without the first request being ignored")
	}
}

func TestQualityOffStopsOneViewersSlotOnly(t *testing.T) {
	x := newLayered(t, 2, peerHooks{})
	eventually(t, 5*time.Second, "both viewers forwarding", func() bool {
		x.sendFrame(3)
		return len(x.writers[0].packets()) > 10 && len(x.writers[1].packets()) > 10
	})
	x.setWant(t, 0, QualityOff)
	if x.bound(0) != -1 || !x.viewers[0].slots[0].paused {
		t.Fatal("off did not pause viewer 0's slot at once")
	}
	if g := gaugeValue(t, x.r.s.m.pausedSlots); g != 1 {
		t.Fatalf("paused_slots %v, want 1", g)
	}
	// Once SetQuality returned, whatever was queued is gated by the
	// binding: not one more packet.
	before0, before1 := len(x.writers[0].packets()), len(x.writers[1].packets())
	for range 60 {
		x.sendFrame(3)
	}
	x.settled(t, 1, before1+180)
	if n := len(x.writers[0].packets()); n != before0 {
		t.Fatalf("viewer 0 got %d packets after off", n-before0)
	}
	x.setWant(t, 0, QualityHigh)
	if x.bound(0) != layerHigh {
		t.Fatalf("back on: viewer 0 bound to layer %d, want high at once", x.bound(0))
	}
	eventually(t, 5*time.Second, "viewer 0 forwarding again", func() bool {
		x.sendFrame(3)
		return len(x.writers[0].packets()) > before0+10
	})
	if g := gaugeValue(t, x.r.s.m.pausedSlots); g != 0 {
		t.Fatalf("paused_slots %v, want 0", g)
	}
}

func TestPublisherLayersFollowWhatViewersReceive(t *testing.T) {
	var mu sync.Mutex
	var notes []LayerSet
	hooks := peerHooks{onLayers: func(l LayerSet) {
		mu.Lock()
		notes = append(notes, l)
		mu.Unlock()
	}}
	x := newLayered(t, 2, hooks)
	last := func() (LayerSet, int) {
		mu.Lock()
		defer mu.Unlock()
		if len(notes) == 0 {
			return LayerSet{}, 0
		}
		return notes[len(notes)-1], len(notes)
	}
	waitFor := func(want LayerSet) {
		t.Helper()
		eventually(t, 5*time.Second, fmt.Sprintf("rtc.publisherLayers %+v", want), func() bool {
			x.sendFrame(1)
			l, _ := last()
			return l == want
		})
	}
	// Both viewers on high: low and medium are received by nobody.
	waitFor(LayerSet{High: true})
	x.setWant(t, 0, QualityLow)
	waitFor(LayerSet{High: true, Low: true}) // the switch's target counts at once
	x.setWant(t, 1, QualityLow)
	waitFor(LayerSet{Low: true}) // high's last viewer left it
	_, n := last()
	x.setWant(t, 1, QualityHigh)
	waitFor(LayerSet{High: true, Low: true}) // and it is back when one returns
	mu.Lock()
	for _, l := range notes[n:] {
		if l.Medium {
			t.Errorf("medium announced with no viewer on it: %+v", notes)
		}
	}
	mu.Unlock()
}

// A viewer asking for a layer the offer declared but whose packets have
// not come (the publisher heard nobody watched before it started, and
// stopped it) is carried on the nearest present layer meanwhile — and the
// publisher is told the layer is wanted, or it would never start it: the
// viewer would stay on that other layer for good. Once the layer comes,
// the slot switches to it.
func TestPublisherLayersAskForADeclaredLayerNotYetCome(t *testing.T) {
	var mu sync.Mutex
	var last LayerSet
	hooks := peerHooks{onLayers: func(l LayerSet) {
		mu.Lock()
		last = l
		mu.Unlock()
	}}
	x := newLayered(t, 1, hooks)
	x.r.mu.Lock()
	x.pub.declared = [numLayers]bool{true, true, true}
	x.removeLayer(layerLow) // low never came
	x.r.mu.Unlock()
	waitFor := func(want LayerSet) {
		t.Helper()
		eventually(t, 5*time.Second, fmt.Sprintf("rtc.publisherLayers %+v", want), func() bool {
			x.sendFrame(1)
			mu.Lock()
			defer mu.Unlock()
			return last == want
		})
	}
	waitFor(LayerSet{High: true})
	x.setWant(t, 0, QualityLow)
	waitFor(LayerSet{Medium: true, Low: true}) // carried on medium, low asked for
	if b := x.bound(0); b != layerMedium {
		t.Fatalf("viewer bound to layer %d while low is absent, want medium", b)
	}

	// Low starts.
	x.r.mu.Lock()
	src := newSource(x.pub, videoIdx, x.codec, nil, nil)
	src.gop = media.NewGOPCache(0, 0)
	src.layer, src.rid = layerLow, "q"
	if !x.pub.addSource(src, true) {
		x.r.mu.Unlock()
		t.Fatal("low refused")
	}
	x.layers[layerLow] = src
	x.r.mu.Unlock()
	x.until(t, 200, "the viewer switched to low", func() bool { return x.bound(0) == layerLow })
	waitFor(LayerSet{Low: true})

	// A layer the offer did not declare is never asked for.
	x.r.mu.Lock()
	x.pub.declared = [numLayers]bool{false, true, true}
	x.removeLayer(layerLow)
	x.r.mu.Unlock()
	waitFor(LayerSet{Medium: true})

	// Nor does the publisher's own slot on its own seat, which carries
	// nothing whatever it wants (a host subscribes to see its guests).
	x.r.mu.Lock()
	x.pub.declared = [numLayers]bool{true, true, true}
	x.viewers[0].user = x.pub.user
	x.viewers[0].slots[0].reselect(x.r.seats[0].src[videoIdx])
	x.r.mu.Unlock()
	waitFor(LayerSet{})
}

func TestQualityNotesSayLayerAndReason(t *testing.T) {
	var mu sync.Mutex
	var notes [][]SlotQuality
	var at []time.Time
	hooks := peerHooks{onQuality: func(q []SlotQuality) {
		mu.Lock()
		notes = append(notes, q)
		at = append(at, time.Now())
		mu.Unlock()
	}}
	x := newLayered(t, 1, hooks)
	lastFor := func() SlotQuality {
		mu.Lock()
		defer mu.Unlock()
		if len(notes) == 0 {
			return SlotQuality{}
		}
		n := notes[len(notes)-1]
		return n[len(n)-1]
	}
	want := func(q SlotQuality) {
		t.Helper()
		eventually(t, 5*time.Second, fmt.Sprintf("rtc.quality %+v", q), func() bool {
			x.sendFrame(1)
			return lastFor() == q
		})
	}
	want(SlotQuality{SeatIndex: 0, Layer: "high"})
	x.setWant(t, 0, QualityMedium)
	want(SlotQuality{SeatIndex: 0, Layer: "medium", Reason: "requested"})
	x.setWant(t, 0, QualityOff)
	want(SlotQuality{SeatIndex: 0, Layer: "paused", Reason: "requested"})
	mu.Lock()
	defer mu.Unlock()
	// At most two a second: 500 ms apart, less the time a note waits
	// for the room's lock.
	for i := 1; i < len(at); i++ {
		if d := at[i].Sub(at[i-1]); d < qualityEvery-50*time.Millisecond {
			t.Fatalf("notes %d and %d only %v apart: %v", i-1, i, d, notes)
		}
	}
}

func TestAllocatorFitsTheEstimateAndPausesWhatDoesNot(t *testing.T) {
	x := newLayered(t, 1, peerHooks{})
	for l, bps := range []int64{150_000, 500_000, 1_500_000} {
		x.layers[l].bitrate.Store(bps)
	}
	v := x.viewers[0]
	sl := v.slots[0]
	capOf := func() int {
		x.r.mu.Lock()
		defer x.r.mu.Unlock()
		return sl.capLayer
	}
	alloc := func(est int64) {
		v.estimate.Store(est)
		v.allocate()
	}
	alloc(2_000_000)
	if c := capOf(); c != layerHigh {
		t.Fatalf("2 Mbit/s: cap %d, want high", c)
	}
	alloc(1_000_000)
	if c := capOf(); c != layerMedium {
		t.Fatalf("1 Mbit/s: cap %d, want medium", c)
	}
	if p := sl.pending.Load(); p == nil || p.src != x.layers[layerMedium] {
		t.Fatal("the downgrade is not waiting for medium's keyframe")
	}
	alloc(100_000)
	if c := capOf(); c != layerOff || x.bound(0) != -1 || !sl.paused {
		t.Fatalf("100 kbit/s: cap %d bound %d paused %v, want the slot paused at once", c, x.bound(0), sl.paused)
	}
	// Within the hold after a downgrade, more room does not move it up.
	alloc(5_000_000)
	if c := capOf(); c != layerOff {
		t.Fatalf("upgraded to %d within the hold", c)
	}
	x.r.mu.Lock()
	v.budget.upgradeAt = time.Now().Add(-time.Millisecond)
	x.r.mu.Unlock()
	// After it, one step a round: paused → high fits at once (a start,
	// not a switch).
	alloc(5_000_000)
	if c := capOf(); c != layerHigh || x.bound(0) != layerHigh {
		t.Fatalf("after the hold: cap %d bound %d, want high", capOf(), x.bound(0))
	}
}
