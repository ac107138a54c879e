package load

import (
	"testing"

	"github.com/seatsfu/seatsfu/bench/peer"
	"github.com/seatsfu/seatsfu/bench/stats"
)

// fakeViewer has received packets so far and connected (ICE, DTLS) or not.
type fakeViewer struct {
	packets   *uint64
	ice, conn int64
}

func (f fakeViewer) Report() []peer.TrackReport {
	return []peer.TrackReport{{Kind: "video", Wire: stats.SeqCounts{Packets: *f.packets}}}
}
func (f fakeViewer) SubscribedNs() int64            { return 0 }
func (f fakeViewer) Close() error                   { return nil }
func (f fakeViewer) ConnectedNs() (ice, conn int64) { return f.ice, f.conn }

// The spread sorts viewers by the share of their due packets that arrived
// in the window — a dark viewer counts as none even though it reports no
// loss — and says which never completed their handshake.
func TestReceiversSpread(t *testing.T) {
	counts := make([]uint64, 6)
	var views []Viewer
	for i := range counts {
		counts[i] = 1000 // before the window
		v := fakeViewer{packets: &counts[i], ice: 1, conn: 1}
		if i == 0 {
			v.conn = 0 // ICE done, DTLS never
		}
		if i == 1 {
			v.ice, v.conn = 0, 0
		}
		views = append(views, v)
	}
	m := markReceivers(views)
	for i, got := range []uint64{0, 0, 10, 60, 95, 100} { // of 100 due
		counts[i] += got
	}
	r := m.spread(100)
	want := Receivers{Viewers: 6, None: 2, UnderHalf: 1, Partial: 1, Full: 2, NotConnected: 2, NoICE: 1, P10: 0, P50: 60, P90: 100}
	if r != want {
		t.Fatalf("spread %+v, want %+v", r, want)
	}
	if (receiveMark{}).spread(100) != (Receivers{}) {
		t.Fatal("no viewers gave a spread")
	}
}
