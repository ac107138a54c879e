package seat

import (
	"flag"
	"strconv"
	"sync/atomic"
	"testing"

	"pgregory.net/rapid"
)

// -seat.ops sets the total number of random operations the property test
// runs (split into sequences of opsPerRun). The default keeps `go test`
// quick; `go test ./seat -run Property -seat.ops=1000000` is the long run.
var totalOps = flag.Int("seat.ops", 20_000, "seat: total random operations for TestProperty")

const opsPerRun = 250

// rapidSource draws the machine's choices from rapid, so failures shrink.
type rapidSource struct{ t *rapid.T }

func (s rapidSource) intn(label string, n int) int { return rapid.IntRange(0, n-1).Draw(s.t, label) }

// TestProperty runs long random operation sequences against the invariants:
// no seat holds two users, no user holds two seats, seat 0 is the owner's,
// seated ≤ maxSeats, every request ends exactly once with the right
// notifications on both sides (and one Internal RequestEnded), no request
// outlives the room, banned users never hold anything, and a refused
// operation changes nothing and sends nothing.
func TestProperty(t *testing.T) {
	runs := (*totalOps + opsPerRun - 1) / opsPerRun
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "rapid.checks" })
	if !explicit {
		if err := flag.Set("rapid.checks", strconv.Itoa(runs)); err != nil {
			t.Fatal(err)
		}
	}
	var ops, rooms, refusals atomic.Int64
	rapid.Check(t, func(t *rapid.T) {
		src := rapidSource{t}
		m, err := newMachine(src)
		if err != nil {
			t.Fatal(err)
		}
		for range opsPerRun {
			if err := m.step(src); err != nil {
				t.Fatalf("after %d ops: %v", m.ops, err)
			}
			if m.lastErr != nil {
				refusals.Add(1)
			}
		}
		ops.Add(int64(m.ops))
		rooms.Add(int64(m.rooms))
	})
	t.Logf("%d operations (%d refused) over %d rooms", ops.Load(), refusals.Load(), rooms.Load())
	if ops.Load() < int64(*totalOps) && !explicit && !testing.Short() {
		t.Fatalf("ran %d operations, wanted %d", ops.Load(), *totalOps)
	}
}
