package sfu

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/interceptor"
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

// unconnectedWriter is a slot's writer before its connection's SRTP is up:
// Pion drops the write and says so with 0 bytes.
type unconnectedWriter struct{ attempts atomic.Int64 }

func (w *unconnectedWriter) WriteRTP(*rtp.Header, []byte) (int, error) {
	w.attempts.Add(1)
	return 0, nil
}
func (w *unconnectedWriter) Write([]byte) (int, error) { return 0, nil }

// pacedUpTrack produces VP8 packets one every gap, a keyframe every
// keyEvery-th, like a host's 1.5 Mbit/s video with a 2 s group.
type pacedUpTrack struct {
	total, sent, keyEvery int
	gap                   time.Duration
	next                  time.Time
	pkt                   rtp.Packet
}

func (u *pacedUpTrack) Read(b []byte) (int, interceptor.Attributes, error) {
	if u.sent == u.total {
		return 0, nil, io.EOF
	}
	if d := time.Until(u.next); d > 0 {
		time.Sleep(d)
	}
	u.next = time.Now().Add(u.gap)
	u.sent++
	u.pkt.SequenceNumber++
	u.pkt.Timestamp += 3000
	u.pkt.Payload[1] = 0x01
	if u.sent%u.keyEvery == 1 {
		u.pkt.Payload[1] = 0x00
	}
	n, err := u.pkt.MarshalTo(b)
	return n, nil, err
}

// BenchmarkJoiningViewers is what 200 viewers still in their ICE/DTLS
// handshake cost the node per packet of a 160 pkt/s video source whose
// group holds ~300 packets: CPU µs (the process's, from getrusage) per
// ingress packet. ungated is how it was before join.go — every packet
// queued, a writer wake-up, a walk of the cached group and a write Pion
// drops; gated is now: nothing. Run with -benchtime 320x (2 s of video).
func BenchmarkJoiningViewers(b *testing.B) {
	for _, gated := range []bool{false, true} {
		b.Run(fmt.Sprintf("gated=%v", gated), func(b *testing.B) {
			f := newFanout(b, 200, 0, 1024, 0)
			up := &pacedUpTrack{total: b.N + 300, keyEvery: 300, gap: time.Second / 160,
				pkt: rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SSRC: 42}, Payload: make([]byte, 1100)}}
			up.pkt.Payload[0] = 0x10
			f.src.in = up
			var ws []*unconnectedWriter
			for _, v := range f.viewers {
				w := &unconnectedWriter{}
				ws = append(ws, w)
				v.slots[0].track.bound.Store(&boundTrack{w: w, ssrc: 1000, pt: 96})
				if gated {
					v.gate() // and never connected
				}
			}
			// A full group in the cache first, as when a room is live.
			up.total = 300
			f.src.read()
			up.total = up.sent + b.N
			var r0, r1 syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
			b.ResetTimer()
			f.src.read()
			b.StopTimer()
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
			f.stop()
			cpu := time.Duration(r1.Utime.Nano()+r1.Stime.Nano()-r0.Utime.Nano()-r0.Stime.Nano()) * time.Nanosecond
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/ingress-pkt")
			var attempts int64
			for _, w := range ws {
				attempts += w.attempts.Load()
			}
			b.ReportMetric(float64(attempts)/float64(b.N), "dropped-writes/ingress-pkt")
		})
	}
}

// A subscriber's answer takes the DTLS server's role (setup:passive), so
// the server finishes the handshake first (join.go), and media flows.
func TestSubscriberAnswersAsDTLSServer(t *testing.T) {
	s := newTestSFU(t)
	r, _ := openTestRoom(t, s, 2, seat.ModeFree)
	startPublisher(t, r, bareClientAPI(t), "owner", 'O')
	pc := newRecvPC(t, bareClientAPI(t))
	_, answer, _, err := r.Subscribe("viewer", gatheredOffer(t, pc), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(answer, "a=setup:passive") || strings.Contains(answer, "a=setup:active") {
		t.Fatalf("answer's DTLS role is not passive:\n%s", answer)
	}
	got := make(chan struct{})
	var once sync.Once
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if _, _, err := tr.ReadRTP(); err == nil {
			once.Do(func() { close(got) })
		}
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no media over the viewer's connection")
	}
}
