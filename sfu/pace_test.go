package sfu

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/seat"
)

// bulkPublisher sends video only, sized like a real stream: a keyframe of
// keyPackets packets (one frame, one timestamp) first and never again, then
// one payloadSize packet every tick. Payloads are laid out as testViewer
// parses them: tag at [2], frame counter at [3:7], key when [1]&1 == 0.
type bulkPublisher struct {
	pc    *webrtc.PeerConnection
	video *webrtc.TrackLocalStaticRTP
	frame atomic.Uint32 // the last frame handed to Pion
	// keyNow makes the next frame a keyframe; keyAt is that frame.
	keyNow chan struct{}
	keyAt  atomic.Uint32
	stop   chan struct{}
	done   chan struct{}
}

const (
	bulkTick        = 4 * time.Millisecond
	bulkPayload     = 1000
	bulkKeyPackets  = 20
	bulkPacketBytes = bulkPayload + 12 // on the wire as the SFU forwards it (header without extensions)
	// bulkRate is the up-track's media rate in bytes per second.
	bulkRate = float64(bulkPacketBytes) / 0.004
)

func startBulkPublisher(t *testing.T, r *Room, user string) *bulkPublisher {
	t.Helper()
	pc, err := bareClientAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	p := &bulkPublisher{pc: pc, keyNow: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	p.video, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "v", "s")
	if _, err := pc.AddTransceiverFromTrack(p.video, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	_, answer, err := r.Publish(user, gatheredOffer(t, pc))
	if err != nil {
		_ = pc.Close()
		t.Fatalf("publish: %v", err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	connected := make(chan struct{})
	var once sync.Once
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	go p.run(connected)
	t.Cleanup(func() {
		close(p.stop)
		<-p.done
		_ = pc.Close()
	})
	return p
}

func (p *bulkPublisher) run(connected chan struct{}) {
	defer close(p.done)
	select {
	case <-connected: // a keyframe written before SRTP is up would be lost
	case <-p.stop:
		return
	}
	tick := time.NewTicker(bulkTick)
	defer tick.Stop()
	payload := make([]byte, bulkPayload)
	var seq uint16
	send := func(frame uint32, first, key bool) {
		seq++
		payload[0] = 0
		if first {
			payload[0] = 0x10 // S=1, partition 0
		}
		payload[1] = 0x01
		if key {
			payload[1] = 0x00
		}
		payload[2] = 'B'
		binary.BigEndian.PutUint32(payload[3:], frame)
		_ = p.video.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: frame * 360}, Payload: payload})
	}
	keyframe := func(frame uint32) {
		for i := 0; i < bulkKeyPackets; i++ {
			send(frame, i == 0, true)
		}
	}
	p.frame.Store(1)
	keyframe(1)
	for frame := uint32(2); ; frame++ {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		p.frame.Store(frame)
		select {
		case <-p.keyNow:
			p.keyAt.Store(frame)
			keyframe(frame)
		default:
			send(frame, true, false)
		}
	}
}

// bulkRoom is a room whose owner publishes a bulkPublisher stream and whose
// video cache holds a group of at least backlog of it.
func bulkRoom(t *testing.T, backlog time.Duration) (*Room, *bulkPublisher, *source) {
	t.Helper()
	s := newTestSFU(t)
	r, _ := openTestRoom(t, s, 2, seat.ModeFree)
	p := startBulkPublisher(t, r, "owner")
	src := videoSource(t, r, "owner")
	eventually(t, 10*time.Second, "a cached group", func() bool { return src.gop.Valid() })
	eventually(t, 10*time.Second, "the group to grow", func() bool {
		return p.frame.Load() > uint32(backlog/bulkTick)
	})
	return r, p, src
}

// A viewer joining a source with a large cached group gets the keyframe at
// once, then the rest of the group no faster than the pacing rate, then the
// live stream right behind it: one unbroken run of sequence numbers, frames
// in order, nothing twice.
func TestReplayOfALargeGroupIsPaced(t *testing.T) {
	r, p, _ := bulkRoom(t, 1500*time.Millisecond)

	var up time.Time
	connected := make(chan struct{})
	v := startViewerHook(t, r, bareClientAPI(t), "late", 1, func(pc *webrtc.PeerConnection) {
		pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
			if st == webrtc.PeerConnectionStateConnected {
				up = time.Now()
				close(connected)
			}
		})
	})
	backlog := p.frame.Load() // the frames cached when the viewer subscribed
	mid := v.mid(t, 0, "video")
	// Catching up takes backlog/(factor-1) of media time; allow plenty more.
	eventually(t, 10*time.Second, "the viewer to catch up with the live stream", func() bool {
		pk := v.packets(mid)
		return len(pk) > 0 && pk[len(pk)-1].counter > backlog+50
	})
	<-connected
	got := v.packets(mid)

	// The keyframe, whole and first, within 100 ms of the connection.
	for i := 0; i < bulkKeyPackets; i++ {
		if !got[i].key || got[i].counter != 1 {
			t.Fatalf("packet %d is frame %d (key %v), want the keyframe's %d packets first", i, got[i].counter, got[i].key, bulkKeyPackets)
		}
	}
	if d := got[bulkKeyPackets-1].at.Sub(up); d > 100*time.Millisecond {
		t.Fatalf("keyframe complete %v after the connection came up, want ≤ 100 ms", d)
	}
	// Source order, sequence continuity, no duplicate, across the replay's
	// hand-over to the live stream.
	for i := 1; i < len(got); i++ {
		if got[i].seq != got[i-1].seq+1 {
			t.Fatalf("packet %d: seq %d after %d", i, got[i].seq, got[i-1].seq)
		}
		if want := max(got[i-1].counter+1, 2); i >= bulkKeyPackets && got[i].counter != want {
			t.Fatalf("packet %d: frame %d after %d, want %d", i, got[i].counter, got[i-1].counter, want)
		}
	}
	// The paced part: from the first packet after the keyframe to the
	// last one the viewer missed.
	first := got[bulkKeyPackets]
	var last rx
	n := 0
	for _, pk := range got[bulkKeyPackets:] {
		if pk.counter <= backlog {
			last = pk
			n++
		}
	}
	if n < 200 {
		t.Fatalf("only %d packets of backlog: the test publisher is too slow to test pacing", n)
	}
	paceCap := min(max(replayFactor*bulkRate, replayMinRate), replayMaxRate)
	span := last.at.Sub(first.at)
	rate := float64((n-1)*bulkPacketBytes) / span.Seconds()
	// The first 5 ms may come as one burst; otherwise the rate is at most
	// the cap. Measured at the receiver, so allow for its scheduling.
	if limit := 1.25 * paceCap; rate > limit {
		t.Fatalf("backlog of %d packets arrived in %v: %.0f B/s, want ≤ %.0f (cap %.0f)", n, span, rate, limit, paceCap)
	}
	t.Logf("keyframe %v after connecting; backlog of %d packets (%d KB) in %v: %.2f Mbit/s, cap %.2f Mbit/s",
		got[bulkKeyPackets-1].at.Sub(up).Round(time.Millisecond), n, n*bulkPacketBytes/1000,
		span.Round(time.Millisecond), rate*8/1e6, paceCap*8/1e6)
}

// Re-pointing a slot in the middle of a paced replay stops the replay at
// once: not one more packet is written for the old source.
func TestRepointStopsAPacedReplayAtOnce(t *testing.T) {
	r, p, _ := bulkRoom(t, 1500*time.Millisecond)
	v := startViewer(t, r, bareClientAPI(t), "late", 1, true)
	backlog := p.frame.Load()
	mid := v.mid(t, 0, "video")
	eventually(t, 10*time.Second, "the replay under way", func() bool { return v.count(mid) > bulkKeyPackets+20 })

	r.mu.Lock()
	var sl *slot
	for vw := range r.viewers {
		for _, s := range vw.slots {
			if vw.user == "late" && s.kind == videoIdx {
				sl = s
			}
		}
	}
	sl.repoint(nil)
	r.mu.Unlock()
	m := r.s.m
	fwd := counterValue(t, m.forwardedPackets[videoIdx])

	if pk := v.packets(mid); pk[len(pk)-1].counter >= backlog {
		t.Fatalf("the replay was over (frame %d of %d) before the re-point: the test proves nothing", pk[len(pk)-1].counter, backlog)
	}
	// Unpaced, or not gated, the rest of the backlog (over 100 KB) would
	// leave within this time.
	quietUntil := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(quietUntil) {
		if got := counterValue(t, m.forwardedPackets[videoIdx]); got != fwd {
			t.Fatalf("%v packets forwarded after the re-point returned", got-fwd)
		}
		time.Sleep(10 * time.Millisecond) // polling for a packet that must not come
	}
	sl.mu.Lock()
	active := sl.replaying
	sl.mu.Unlock()
	if active {
		t.Fatal("the slot still has a replay in progress 300 ms after the re-point")
	}
}

// A keyframe arriving in the middle of a paced replay replaces the cached
// group: the replay goes on from the new keyframe, skipping the stale rest
// of the old group, with no sequence gap at the viewer, and then hands over
// to the live stream.
func TestReplayMovesOnToANewerKeyframe(t *testing.T) {
	r, p, _ := bulkRoom(t, 1500*time.Millisecond)
	v := startViewer(t, r, bareClientAPI(t), "late", 1, true)
	backlog := p.frame.Load()
	mid := v.mid(t, 0, "video")
	eventually(t, 10*time.Second, "the replay under way", func() bool { return v.count(mid) > bulkKeyPackets+20 })
	p.keyNow <- struct{}{}
	eventually(t, 10*time.Second, "the new keyframe at the viewer and live frames after it", func() bool {
		pk := v.packets(mid)
		return p.keyAt.Load() != 0 && len(pk) > 0 && pk[len(pk)-1].counter > p.keyAt.Load()+50
	})
	got := v.packets(mid)
	key := p.keyAt.Load()
	jumped := false
	for i := 1; i < len(got); i++ {
		prev, pk := got[i-1], got[i]
		if pk.seq != prev.seq+1 {
			t.Fatalf("packet %d: seq %d after %d", i, pk.seq, prev.seq)
		}
		switch {
		case pk.counter == prev.counter && pk.key == prev.key: // the same keyframe's packets
		case pk.counter == prev.counter+1:
		case pk.counter == key && pk.key && prev.counter < key:
			jumped = true // the stale rest of the old group skipped
		default:
			t.Fatalf("packet %d: frame %d (key %v) after frame %d (key %v), new keyframe %d", i, pk.counter, pk.key, prev.counter, prev.key, key)
		}
	}
	if got[0].counter != 1 || !got[0].key {
		t.Fatalf("first packet frame %d (key %v), want the first keyframe", got[0].counter, got[0].key)
	}
	if !jumped {
		// The replay caught up before the keyframe came: nothing was
		// tested. The group (1.5 s at 4×) takes ~0.5 s; the keyframe was
		// asked for after a tenth of it.
		t.Fatalf("the replay reached the live edge before the new keyframe %d (backlog %d frames)", key, backlog)
	}
}
