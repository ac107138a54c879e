package nettest

import (
	"flag"
	"testing"

	"github.com/seatsfu/seatsfu/internal/impair"
)

var soak = flag.Duration("soak", 0, "run TestSoakLossBothLegs for this long (e.g. -soak=2m); skipped when 0")

// TestSoakLossBothLegs is the long version of the loss tests, off by
// default: 5 % random loss on the publisher leg and 2 % bursts on the viewer
// leg at once, for -soak, with the same 0.1 % unrecovered budget.
//
//	go test -race -run Soak -soak=2m ./sfu/nettest/
func TestSoakLossBothLegs(t *testing.T) {
	if *soak <= 0 {
		t.Skip("set -soak=DURATION to run")
	}
	x := startRun(t,
		leg{up: &impair.Config{Seed: 41, Loss: 0.05}, down: &impair.Config{Seed: 42, Loss: 0.05}},
		leg{up: &impair.Config{Seed: 43, Loss: 0.02}, down: &impair.Config{Seed: 44, Loss: 0.02, Burst: impair.Burst{MeanBurst: 8}}},
		100)
	l := x.stream(t, uint32(*soak/frameEvery))
	checkLoss(t, l, x.pubRelay)
	t.Logf("viewer relay down %+v", x.viewRelay.Counters(impair.TargetToClient))
	if gap, at := decodeGap(x.v.packets(), 4); gap > 100 {
		t.Fatalf("%d frames undecodable in a row (at frame %d)", gap, at)
	}
}
