package sfu

import (
	"fmt"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/media"
	"github.com/seatsfu/seatsfu/seat"
)

// quiet waits until src has no keyframe request in flight and its last PLI
// is a whole window old, so the next request is granted at once.
func quiet(t *testing.T, src *source) {
	t.Helper()
	eventually(t, 5*time.Second, "the keyframe throttle to go quiet", func() bool {
		return src.up.kf.Due().IsZero() && time.Since(time.Unix(0, src.up.lastPLI.Load())) > keyframeInterval
	})
}

func videoSource(t *testing.T, r *Room, user string) *source {
	t.Helper()
	var src *source
	eventually(t, 10*time.Second, "the publisher's video up-track", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		if p := r.publishers[user]; p != nil {
			src = p.sources[videoIdx]
		}
		return src != nil
	})
	return src
}

// Fifty viewers each sending a PLI every 20 ms for over a second (3 000
// requests) cost the publisher at most one PLI per 500 ms, and a viewer
// receives the keyframe they asked for: the publisher here makes keyframes
// only when asked.
func TestFiftyViewersPLIStormIsCoalesced(t *testing.T) {
	s := newTestSFU(t)
	r, _ := openTestRoom(t, s, 2, seat.ModeFree)
	p, _ := startPublisherKeys(t, r, clientAPI(t), "owner", 'O', 0)
	src := videoSource(t, r, "owner")

	bare := bareClientAPI(t)
	const n = 50
	viewers := make([]*testViewer, n)
	for i := range viewers {
		viewers[i] = startViewer(t, r, bare, fmt.Sprintf("v%02d", i), 1, i == 0)
	}
	mid := viewers[0].mid(t, 0, "video")
	for _, v := range viewers {
		eventually(t, 20*time.Second, "every viewer's video track", func() bool { return v.ssrc(mid) != 0 })
	}
	quiet(t, src)
	// Every PLI sent so far has reached the publisher: one still on its way
	// would be counted as the storm's.
	arrived := func() bool { return float64(p.plis.Load()) == counterValue(t, s.m.keyframeRequests) }
	eventually(t, 5*time.Second, "the PLIs sent before the storm to arrive", arrived)

	start := time.Now()
	before := p.plis.Load()
	sentAtStart := p.sentCounter()
	const rounds = 60
	for round := 0; round < rounds; round++ {
		for _, v := range viewers {
			if err := v.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: v.ssrc(mid)}}); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(20 * time.Millisecond) // pacing the storm, not waiting for a result
	}
	// Let the last coalesced request be granted, and every PLI the server
	// sent arrive (the server's count and the publisher's then agree).
	eventually(t, 3*time.Second, "the last coalesced request to be granted", func() bool { return src.up.kf.Due().IsZero() })
	eventually(t, 3*time.Second, "every PLI sent to arrive", arrived)
	elapsed := time.Since(start)

	// Arrival times at the publisher can bunch on a loaded machine, so
	// spacing is proven where it is decided (media's throttle tests and
	// TestKeyframeRequestInsideTheWindow...); here, the count.
	got := p.plis.Load() - before
	if max := int64(elapsed/keyframeInterval) + 1; got > max || got < 2 {
		t.Fatalf("%d viewer PLIs over %v became %d upstream, want 2..%d", n*rounds, elapsed, got, max)
	}
	// The reading viewer got keyframes made after the storm began.
	eventually(t, 2*time.Second, "a requested keyframe at the viewer", func() bool {
		for _, pk := range viewers[0].packets(mid) {
			if pk.key && pk.counter > sentAtStart {
				return true
			}
		}
		return false
	})
	t.Logf("%d viewer PLIs in %v → %d PLIs upstream (one per %v)", n*rounds, elapsed.Round(time.Millisecond), got, (elapsed / time.Duration(got-1)).Round(time.Millisecond))
}

// A request that falls inside the throttle window is not lost: it is
// granted, once, when the window ends, without anyone asking again.
func TestKeyframeRequestInsideTheWindowIsGrantedWhenItEnds(t *testing.T) {
	s := newTestSFU(t)
	r, _ := openTestRoom(t, s, 2, seat.ModeFree)
	p, _ := startPublisherKeys(t, r, bareClientAPI(t), "owner", 'O', 0)
	src := videoSource(t, r, "owner")
	eventually(t, 10*time.Second, "video arriving", func() bool { return counterValue(t, s.m.receivedPackets[videoIdx]) > 5 })
	quiet(t, src)

	before := p.plis.Load()
	src.requestKeyframe() // granted now
	src.requestKeyframe() // inside the window: remembered
	src.requestKeyframe() // coalesced with the previous one
	eventually(t, 2*time.Second, "the granted PLI", func() bool { return p.plis.Load() >= before+1 })
	eventually(t, 2*time.Second, "the coalesced PLI when the window ended", func() bool { return p.plis.Load() >= before+2 })
	at := p.pliTimes()
	if d := at[len(at)-1].Sub(at[len(at)-2]); d < keyframeInterval-50*time.Millisecond || d > 2*keyframeInterval {
		t.Fatalf("coalesced PLI came %v after the first, want about %v", d, keyframeInterval)
	}
	// Nothing more was asked, so nothing more is sent.
	quiet(t, src)
	if got := p.plis.Load() - before; got != 2 {
		t.Fatalf("%d PLIs for 3 requests in one window, want 2", got)
	}
}

// A new viewer's first video packet is a keyframe, and it arrives within
// 100 ms of the viewer's connection coming up: the source's cached keyframe
// is replayed instead of waiting for the publisher's next one (this
// publisher sends one only when asked, and is kept from being asked).
func TestNewViewerStartsOnTheCachedKeyframeWithin100ms(t *testing.T) {
	s := newTestSFU(t)
	r, _ := openTestRoom(t, s, 2, seat.ModeFree)
	p, _ := startPublisherKeys(t, r, bareClientAPI(t), "owner", 'O', 0)
	src := videoSource(t, r, "owner")
	// The publisher's first keyframe may have been written before its
	// connection was up (Pion drops it): ask until one is cached.
	eventually(t, 10*time.Second, "a cached keyframe", func() bool {
		if !src.gop.Valid() {
			src.requestKeyframe()
			return false
		}
		return true
	})
	keys := p.keys.Load()

	api := bareClientAPI(t)
	for i := 0; i < 3; i++ {
		var up time.Time
		connected := make(chan struct{})
		v := startViewerHook(t, r, api, fmt.Sprintf("late%d", i), 1, func(pc *webrtc.PeerConnection) {
			pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
				if st == webrtc.PeerConnectionStateConnected {
					up = time.Now()
					close(connected)
				}
			})
		})
		sentBefore := p.sentCounter()
		mid := v.mid(t, 0, "video")
		eventually(t, 10*time.Second, "the late viewer's first video", func() bool { return v.count(mid) > 0 })
		<-connected
		first := v.packets(mid)[0]
		if !first.key {
			t.Fatalf("viewer %d: first video packet (frame %d) is not a keyframe", i, first.counter)
		}
		if d := first.at.Sub(up); d > 100*time.Millisecond {
			t.Fatalf("viewer %d: first keyframe %v after the connection came up, want ≤ 100 ms", i, d)
		}
		if p.keys.Load() != keys || first.counter > sentBefore {
			t.Fatalf("viewer %d started on frame %d (sent before subscribing: %d), publisher made %d keyframes (%d before): want the cached one",
				i, first.counter, sentBefore, p.keys.Load(), keys)
		}
		t.Logf("viewer %d: keyframe (frame %d) %v after connecting", i, first.counter, first.at.Sub(up).Round(time.Millisecond))
	}
}

// A viewer's NACK that misses the shared cache although the packet is
// recent enough to be there means the SFU never got it: the publisher is
// asked, once per upNackEvery however many viewers miss it; packets older
// than the cache covers are not asked for.
func TestCacheMissIsAskedUpstreamOnce(t *testing.T) {
	s := newTestSFU(t)
	r, _ := openTestRoom(t, s, 2, seat.ModeFree)
	p, _ := startPublisherKeys(t, r, bareClientAPI(t), "owner", 'O', 10)
	src := videoSource(t, r, "owner")
	eventually(t, 10*time.Second, "video arriving", func() bool { return counterValue(t, s.m.receivedPackets[videoIdx]) > 5 })

	// A fresh cache: everything before now is "never received" but recent.
	src.cache.Store(media.NewCache(media.MinCacheSize))
	var newest uint16
	eventually(t, 5*time.Second, "five packets in the fresh cache", func() bool {
		n, ok := src.cache.Load().Newest()
		newest = n
		return ok && src.cache.Load().Size() == media.MinCacheSize && func() bool {
			_, ok := src.cache.Load().Get(n-4, make([]byte, media.MaxPacketSize))
			return ok
		}()
	})
	missing := newest - 10
	for i := 0; i < 20; i++ { // twenty viewers missing the same packet
		src.nackUpstream(missing)
	}
	src.nackUpstream(newest - media.MinCacheSize - 5) // older than the cache covers: not asked
	eventually(t, 2*time.Second, "the NACK at the publisher", func() bool { return len(p.nacks()) > 0 })
	quietFor := time.Now().Add(upNackEvery / 2)
	for time.Now().Before(quietFor) {
		time.Sleep(10 * time.Millisecond) // room for a duplicate to show up
	}
	if got := p.nacks(); len(got) != 1 || got[0] != missing {
		t.Fatalf("publisher NACKed for %v, want only %d once", got, missing)
	}
	// After upNackEvery the same miss may be asked again.
	eventually(t, 2*time.Second, "a repeat after upNackEvery", func() bool {
		src.nackUpstream(missing)
		return len(p.nacks()) == 2
	})
}
