package sfu

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/media"
	"github.com/seatsfu/seatsfu/seat"
)

// openOwnedRoom opens room id owned by "own-"+id.
func openOwnedRoom(t testing.TB, s *SFU, id string, maxSeats int) *Room {
	t.Helper()
	r, err := s.OpenRoom(RoomConfig{Notifier: &recorder{}, Seat: seat.Config{
		RoomID: id, MaxSeats: maxSeats, Mode: seat.ModeFree, Clock: realClock{}, Grace: 10 * time.Second,
		Owner: seat.User{UserID: "own-" + id, Name: id, Role: seat.RoleOwner},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// cohostMid is the mid of a test viewer's co-host slot k of kind.
func (v *testViewer) cohostMid(t testing.TB, k int, kind string) string {
	t.Helper()
	for _, s := range v.slots {
		if s.CohostIndex == k && s.Kind == kind {
			return s.Mid
		}
	}
	t.Fatalf("no %s co-host slot %d in %+v", kind, k, v.slots)
	return ""
}

func (v *testViewer) tagged(mid string, tag byte) int {
	n := 0
	for _, p := range v.packets(mid) {
		if p.tag == tag {
			n++
		}
	}
	return n
}

// A connection changing re-points a co-host slot like a seat changing
// hands: same SSRC, continuous sequence numbers and timestamps, the new
// owner starting on a keyframe; a slot with no room any more goes silent.
func TestCohostSlotRepointsWithoutRenegotiation(t *testing.T) {
	s := newTestSFU(t)
	a, b, c := openOwnedRoom(t, s, "A", 2), openOwnedRoom(t, s, "B", 2), openOwnedRoom(t, s, "C", 2)
	api := clientAPI(t)
	startPublisher(t, b, api, "own-B", 'B')
	startPublisher(t, c, api, "own-C", 'C')
	v := startViewer(t, a, api, "fan", 4, true) // seats 0, 1, co-host slots 1, 2
	if len(v.slots) != 8 {
		t.Fatalf("slots %+v", v.slots)
	}
	a1, v1, v2 := v.cohostMid(t, 1, "audio"), v.cohostMid(t, 1, "video"), v.cohostMid(t, 2, "video")

	a.SetCohosts([]*Room{b, c})
	eventually(t, 10*time.Second, "B on slot 1, C on slot 2", func() bool {
		return v.tagged(v1, 'B') >= 20 && v.tagged(a1, 'B') >= 20 && v.tagged(v2, 'C') >= 20
	})
	a.SetCohosts([]*Room{c}) // B left: C moves up to slot 1, slot 2 is silent
	movedAt := time.Now()
	eventually(t, 10*time.Second, "C on slot 1", func() bool { return v.tagged(v1, 'C') >= 30 && v.tagged(a1, 'C') >= 30 })
	if late := after(v.packets(v2), movedAt.Add(100*time.Millisecond)); len(late) != 0 {
		t.Fatalf("slot 2 carried %d packets after its room went", len(late))
	}
	for _, mid := range []string{a1, v1} {
		ps := v.packets(mid)
		sawC := false
		for i, p := range ps {
			if p.ssrc != ps[0].ssrc {
				t.Fatalf("%s: SSRC changed at packet %d", mid, i)
			}
			if p.tag == 'C' && !sawC {
				sawC = true
				if mid == v1 && !p.key {
					t.Errorf("C's first video packet on slot 1 is not a keyframe")
				}
			}
			if p.tag == 'B' && sawC {
				t.Fatalf("%s: B's packet after C's", mid)
			}
			if i == 0 {
				continue
			}
			if d := int16(p.seq - ps[i-1].seq); d < 1 || d > 3 {
				t.Fatalf("%s: sequence jumps by %d at packet %d", mid, d, i)
			}
			if d := int32(p.ts - ps[i-1].ts); d < 0 {
				t.Fatalf("%s: timestamp goes back by %d at packet %d", mid, -d, i)
			}
		}
	}
}

// The other room ending silences the slot at once; a viewer that leaves
// leaves no slot behind in the other room.
func TestCohostSlotGatedByRoomEndAndViewerClose(t *testing.T) {
	s := newTestSFU(t)
	a, b := openOwnedRoom(t, s, "A", 2), openOwnedRoom(t, s, "B", 2)
	api := clientAPI(t)
	pb, _ := startPublisher(t, b, api, "own-B", 'B')
	v := startViewer(t, a, api, "fan", 3, true)
	gone := startViewer(t, a, api, "leaver", 3, true)
	a.SetCohosts([]*Room{b})
	a1, v1 := v.cohostMid(t, 1, "audio"), v.cohostMid(t, 1, "video")
	eventually(t, 10*time.Second, "B on slot 1", func() bool {
		return v.tagged(v1, 'B') >= 20 && gone.tagged(gone.cohostMid(t, 1, "video"), 'B') >= 20
	})

	_ = gone.pc.Close()
	eventually(t, 10*time.Second, "the leaver's slots gone from B", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.guests[audioIdx]) == 1 && len(b.guests[videoIdx]) == 1
	})

	do(t, b, func(sr *seat.Room) ([]seat.Delivery, error) { return sr.End("own-B") })
	endedAt, lastSent := time.Now(), pb.sentCounter()
	eventually(t, 5*time.Second, "1.2 s after B ended", func() bool { return time.Since(endedAt) > 1200*time.Millisecond })
	for _, mid := range []string{a1, v1} {
		for _, p := range v.packets(mid) {
			if p.counter > lastSent {
				t.Fatalf("slot got B's packet %d, sent after B ended (last before: %d)", p.counter, lastSent)
			}
		}
		if late := after(v.packets(mid), endedAt.Add(100*time.Millisecond)); len(late) != 0 {
			t.Fatalf("slot got %d packets more than 100 ms after B ended", len(late))
		}
	}
	// Pointing at an ended room is silent too, and harmless.
	a.SetCohosts([]*Room{b})
	a.SetCohosts(nil)
}

// A co-host slot's viewer gets sender reports on the slot's SSRC that map
// its timestamps to the other owner's capture clock, as seat slots do, so
// the owner's audio and video stay in sync after the re-basing.
func TestCohostSlotSenderReports(t *testing.T) {
	s := newTestSFU(t)
	a, b := openOwnedRoom(t, s, "A", 2), openOwnedRoom(t, s, "B", 2)
	api := clientAPI(t) // Pion's interceptors: the publisher sends sender reports
	startPublisher(t, b, api, "own-B", 'B')
	v := startViewer(t, a, api, "fan", 3, true)
	a.SetCohosts([]*Room{b})
	mid := v.cohostMid(t, 1, "video")
	eventually(t, 10*time.Second, "B on slot 1", func() bool { return v.tagged(mid, 'B') >= 10 && v.ssrc(mid) != 0 })

	var recv *webrtc.RTPReceiver
	for _, tr := range v.pc.GetTransceivers() {
		if tr.Mid() == mid {
			recv = tr.Receiver()
		}
	}
	reports := make(chan *rtcp.SenderReport, 16)
	go func() { // ends when the viewer's connection closes at cleanup
		for {
			pkts, _, err := recv.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				if sr, ok := p.(*rtcp.SenderReport); ok {
					select {
					case reports <- sr:
					default:
					}
				}
			}
		}
	}()
	deadline := time.After(5 * time.Second)
	for {
		var sr *rtcp.SenderReport
		select {
		case sr = <-reports:
		case <-deadline:
			t.Fatal("no sender report on the co-host slot")
		}
		if sr.SSRC != v.ssrc(mid) {
			t.Fatalf("sender report for SSRC %d, the slot's is %d", sr.SSRC, v.ssrc(mid))
		}
		// Same machine, same clock: the report's wall clock is now, and its
		// RTP time is where the slot's timestamps are now (90 kHz, 10 ms a
		// frame), within the scheduling slack of a loaded test box.
		at := media.NTPToTime(sr.NTPTime)
		if d := time.Since(at); d < -time.Second || d > time.Second {
			t.Fatalf("sender report's wall clock is %v off", d)
		}
		ps := v.packets(mid)
		last := ps[len(ps)-1]
		want := last.ts + uint32(at.Sub(last.at).Seconds()*90000)
		if d := int32(sr.RTPTime - want); d < -45000 || d > 45000 {
			t.Fatalf("sender report's RTP time %d is %d ticks from the slot's timeline (%d)", sr.RTPTime, d, want)
		}
		return
	}
}
