package load

import (
	"testing"
	"time"
)

// layerShares counts each 100 ms step by the layer last seen within the
// freeze gap, and a step with nothing that recent as none.
func TestLayerSharesCountFreezesAsNone(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int, layer int) rxAt {
		return rxAt{at: t0.Add(time.Duration(ms) * time.Millisecond), layer: layer}
	}
	var in []rxAt
	for ms := 0; ms < 1000; ms += 33 { // one second of high
		in = append(in, at(ms, 2))
	}
	for ms := 1000; ms < 2000; ms += 33 { // one of low
		in = append(in, at(ms, 0))
	}
	// then two seconds of nothing: 0.5 s still shows low, 1.5 s none
	s := layerShares(in, t0, t0.Add(4*time.Second))
	want := [4]float64{0.375, 0, 0.25, 0.375} // low 1.5 s, high 1 s, none 1.5 s of 4
	for l := range s {
		if d := s[l] - want[l]; d > 0.03 || d < -0.03 {
			t.Fatalf("shares %v, want about %v", s, want)
		}
	}
}
