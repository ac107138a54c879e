package signal

import (
	"testing"

	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// TestCascadeStale: a cascade being set up or one that failed is never
// stale (its acquirers hold and release it); a set-up one is stale once its
// link to the host ended or its media connection closed, and not before.
func TestCascadeStale(t *testing.T) {
	closed := make(chan struct{})
	close(closed)
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	live := &cascadeLink{done: make(chan struct{})}
	ended := &cascadeLink{done: closed}

	if k := (&cascade{ready: make(chan struct{})}); k.stale() {
		t.Error("a cascade being set up is stale")
	}
	if k := (&cascade{ready: closed, err: errInternal}); k.stale() {
		t.Error("a failed cascade is stale")
	}
	if k := (&cascade{ready: closed, host: live, pc: pc}); k.stale() {
		t.Error("a live cascade is stale")
	}
	if k := (&cascade{ready: closed, host: ended, pc: pc}); !k.stale() {
		t.Error("a cascade whose link ended is not stale")
	}
	if err := pc.Close(); err != nil {
		t.Fatal(err)
	}
	if k := (&cascade{ready: closed, host: live, pc: pc}); !k.stale() {
		t.Error("a cascade whose media connection closed is not stale")
	}
}

// TestCascadeWants: per seat, the best quality any local viewer wants — a
// fresh subscriber wants high, off is below every layer, and a seat nobody
// here watches is off.
func TestCascadeWants(t *testing.T) {
	w := newCascadeWants(3)
	a, b := &relayState{}, &relayState{}
	want := func(what string, q ...proto.Quality) {
		t.Helper()
		got := w.wanted()
		for i := range q {
			if got[i] != q[i] {
				t.Fatalf("%s: wanted %v, want %v", what, got, q)
			}
		}
	}
	want("no viewers", proto.QualityOff, proto.QualityOff, proto.QualityOff)
	w.subscribed(a)
	want("a fresh viewer", proto.QualityHigh, proto.QualityHigh, proto.QualityHigh)
	w.set(a, 0, proto.QualityLow)
	w.set(a, 1, proto.QualityOff)
	w.set(a, 7, proto.QualityLow) // a seat the room lacks: ignored
	want("a's choices", proto.QualityLow, proto.QualityOff, proto.QualityHigh)
	w.subscribed(b)
	w.set(b, 0, proto.QualityMedium)
	w.set(b, 1, proto.QualityOff)
	want("the best of a and b", proto.QualityMedium, proto.QualityOff, proto.QualityHigh)
	w.gone(b)
	want("b gone", proto.QualityLow, proto.QualityOff, proto.QualityHigh)
	w.set(b, 0, proto.QualityHigh) // a viewer that left changes nothing
	want("b's late choice", proto.QualityLow, proto.QualityOff, proto.QualityHigh)
}
