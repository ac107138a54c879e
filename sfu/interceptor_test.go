package sfu

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"

	"github.com/seatsfu/seatsfu/seat"
)

// interceptorGoroutines counts the running goroutines that are Pion
// interceptor loops. With bareClientAPI's clients every one counted belongs
// to the server.
func interceptorGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "github.com/pion/interceptor/pkg/") && strings.Contains(g, ".loop(") {
			count++
		}
	}
	return count
}

// The interceptor choice of engine.go, counted: a publisher connection runs
// Pion's NACK generator, receiver-report and TWCC feedback loops (one
// each), and viewers — however many — add none, where Pion's defaults would
// cost each viewer three ticker goroutines.
func TestViewerCostsNoInterceptorGoroutines(t *testing.T) {
	s := newTestSFU(t)
	r, _ := openTestRoom(t, s, 2, seat.ModeFree)
	api := bareClientAPI(t)
	startPublisher(t, r, api, "owner", 'O')
	eventually(t, 10*time.Second, "the publisher's interceptor loops", func() bool { return interceptorGoroutines() == 3 })
	var vs []*testViewer
	for i := 0; i < 3; i++ {
		vs = append(vs, startViewer(t, r, api, "v"+string(rune('a'+i)), 2, true))
	}
	for _, v := range vs {
		mid := v.mid(t, 0, "video")
		eventually(t, 10*time.Second, "viewers receiving", func() bool { return v.count(mid) >= 5 })
	}
	if n := interceptorGoroutines(); n != 3 {
		t.Fatalf("%d interceptor loops with one publisher and three viewers, want the publisher's 3", n)
	}
}

// goroutinesOf counts the running goroutines whose stack holds a frame
// matching one of frames.
func goroutinesOf(frames ...string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, f := range frames {
			if strings.Contains(g, f) {
				count++
				break
			}
		}
	}
	return count
}

// A viewer's RTCP is read once per connection, by Pion's SRTCP session
// (feedback.go), not by a goroutine per slot, and its queue is drained by
// the SFU's writer pool (writers.go): a viewer of four seats (eight slots)
// costs the SFU no goroutine of its own at rest, and its feedback still reaches the slot it names: a NACK is answered on its slot,
// a PLI on another slot reaches that slot's publisher.
func TestViewerRTCPIsReadOncePerConnection(t *testing.T) {
	s := newTestSFU(t)
	r, _ := openTestRoom(t, s, 4, seat.ModeFree)
	api := bareClientAPI(t)
	startPublisher(t, r, api, "owner", 'O')
	seatUser(t, r, "g3", 3)
	guest, _ := startPublisher(t, r, api, "g3", 'G')
	ours := func() int {
		return goroutinesOf("github.com/seatsfu/seatsfu/sfu.(*viewer)", "github.com/seatsfu/seatsfu/sfu.(*slot)")
	}
	base := ours()
	const viewers = 3
	var vs []*testViewer
	for i := 0; i < viewers; i++ {
		vs = append(vs, startViewer(t, r, api, "v"+string(rune('a'+i)), 4, true))
	}
	for _, v := range vs {
		for _, idx := range []int{0, 3} {
			mid := v.mid(t, idx, "video")
			eventually(t, 10*time.Second, "viewers receiving", func() bool { return v.count(mid) >= 5 })
		}
	}
	// A writer may be serving a viewer at any instant; at rest none is.
	eventually(t, 10*time.Second, "no goroutine of the SFU per viewer of 8 slots at rest", func() bool { return ours() == base })

	// The first viewer's feedback, sent as a browser would: one compound
	// packet with an RR naming every slot, a NACK for the seat-0 video slot
	// and a PLI for the seat-3 one.
	v := vs[0]
	mid := v.mid(t, 0, "video")
	ssrc, ssrc3 := v.ssrc(mid), v.ssrc(v.mid(t, 3, "video"))
	before := len(guest.pliTimes())
	m := r.s.m
	nacks := counterValue(t, m.nacksReceived)
	var blocks []rtcp.ReceptionReport
	for _, tr := range v.pc.GetTransceivers() {
		if rx := tr.Receiver(); rx != nil && rx.Track() != nil {
			blocks = append(blocks, rtcp.ReceptionReport{SSRC: uint32(rx.Track().SSRC())})
		}
	}
	seq := v.packets(mid)[2].seq
	if err := v.pc.WriteRTCP([]rtcp.Packet{
		&rtcp.ReceiverReport{SSRC: 1, Reports: blocks},
		&rtcp.TransportLayerNack{SenderSSRC: 1, MediaSSRC: ssrc, Nacks: []rtcp.NackPair{{PacketID: seq}}},
		&rtcp.PictureLossIndication{SenderSSRC: 1, MediaSSRC: ssrc3},
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the NACK counted once", func() bool { return counterValue(t, m.nacksReceived) == nacks+1 })
	eventually(t, 10*time.Second, "the PLI reaching the seat-3 publisher", func() bool { return len(guest.pliTimes()) > before })
	eventually(t, 10*time.Second, "the retransmission", func() bool {
		n := 0
		for _, p := range v.packets(mid) {
			if p.seq == seq {
				n++
			}
		}
		return n == 2
	})
}
