package sfu

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/seat"
)

// A viewer that joins while its source is silent still gets the cached
// group, keyframe first, as soon as its connection is up: the slot starts
// from the cache when the connection connects, not on the source's next
// packet (join.go). Before, the slot waited for a live packet that never
// came.
func TestJoinStartsFromTheCacheWhenConnected(t *testing.T) {
	s := newTestSFU(t)
	r, _ := openTestRoom(t, s, 2, seat.ModeFree)
	p, offer := newPublisherPC(t, clientAPI(t))
	t.Cleanup(func() { _ = p.pc.Close() })
	connected := make(chan struct{})
	p.pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			select {
			case <-connected:
			default:
				close(connected)
			}
		}
	})
	_, answer, err := r.Publish("owner", offer)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("publisher never connected")
	}
	// One keyframe and four inter frames, then silence.
	const frames = 5
	for i := uint32(1); i <= frames; i++ {
		vp := make([]byte, 8)
		vp[0] = 0x10 // VP8 descriptor: S=1, partition 0
		if i > 1 {
			vp[1] = 0x01 // an inter frame
		}
		vp[2] = 'J'
		binary.BigEndian.PutUint32(vp[3:], i)
		if err := p.video.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: uint16(i), Timestamp: i * 3000}, Payload: vp}); err != nil {
			t.Fatal(err)
		}
	}
	src := videoSource(t, r, "owner")
	eventually(t, 10*time.Second, "the group in the cache", func() bool {
		return src.gop.Replay(func([]byte) bool { return true }) == frames
	})

	v := startViewer(t, r, clientAPI(t), "viewer", 1, true)
	mid := v.mid(t, 0, "video")
	eventually(t, 10*time.Second, "the cached group at the silent source's new viewer", func() bool {
		return v.count(mid) >= frames
	})
	got := v.packets(mid)
	if !got[0].key {
		t.Fatalf("first packet is not the keyframe: %+v", got[0])
	}
	for i, g := range got[:frames] {
		if g.tag != 'J' || g.counter != uint32(i+1) {
			t.Fatalf("packet %d is %c/%d, want J/%d (all: %+v)", i, g.tag, g.counter, i+1, got)
		}
		if i > 0 && g.seq != got[i-1].seq+1 {
			t.Fatalf("sequence gap at %d: %d after %d", i, g.seq, got[i-1].seq)
		}
	}
}
