package sfu

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
)

// A viewer's slots fall into step and send their sender reports together,
// one compound RTCP packet a turn (report.go), rather than a packet each.
// Pion's receiver splits a compound packet by SSRC, so the test sees the
// mark it leaves: an audio and a video report of one and the same instant.
func TestAViewersSlotsSendTheirReportsTogether(t *testing.T) {
	s := newTestSFU(t)
	r := openOwnedRoom(t, s, "A", 2)
	api := clientAPI(t) // Pion's interceptors: the publisher sends sender reports
	startPublisher(t, r, api, "own-A", 'A')
	v := startViewer(t, r, api, "fan", 1, true)
	audio, video := v.mid(t, 0, "audio"), v.mid(t, 0, "video")
	eventually(t, 10*time.Second, "the seat's audio and video", func() bool {
		return v.count(audio) >= 10 && v.count(video) >= 10 && v.ssrc(audio) != 0 && v.ssrc(video) != 0
	})
	type report struct {
		mid string
		ntp uint64
	}
	reports := make(chan report, 64)
	for _, tr := range v.pc.GetTransceivers() {
		mid, recv := tr.Mid(), tr.Receiver()
		if mid != audio && mid != video {
			continue
		}
		ssrc := v.ssrc(mid)
		go func() { // ends when the viewer's connection closes at cleanup
			for {
				pkts, _, err := recv.ReadRTCP()
				if err != nil {
					return
				}
				for _, p := range pkts {
					if sr, ok := p.(*rtcp.SenderReport); ok && sr.SSRC == ssrc {
						select {
						case reports <- report{mid, sr.NTPTime}:
						default:
						}
					}
				}
			}
		}()
	}
	// Reports are due once a second. Once the slots are in step (the first
	// instant both report), every later video report has its audio twin:
	// reports that met by chance, in one writer turn, would not keep
	// meeting.
	seen := map[string][]uint64{}
	end := time.After(5 * time.Second)
collect:
	for {
		select {
		case rep := <-reports:
			seen[rep.mid] = append(seen[rep.mid], rep.ntp)
		case <-end:
			break collect
		}
	}
	twin := map[uint64]bool{}
	for _, ntp := range seen[audio] {
		twin[ntp] = true
	}
	inStep, after := false, 0
	for i, ntp := range seen[video] {
		switch {
		case !inStep:
			inStep = twin[ntp]
		case i == len(seen[video])-1:
			// the last may have its twin still on the way
		case !twin[ntp]:
			t.Fatalf("video report %d of %d has no audio report of its instant after the slots fell into step", i+1, len(seen[video]))
		default:
			after++
		}
	}
	if !inStep || after < 2 {
		t.Fatalf("slots in step: %v, then %d joint reports (want ≥ 2); %d audio, %d video reports", inStep, after, len(seen[audio]), len(seen[video]))
	}
}
