package signal

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The budget table is bounded, shares a budget between a user's sockets and
// across reconnects, forgets only budgets nobody uses that are full again,
// and when full of live budgets hands out private ones instead of growing.
func TestBudgetsAreSharedBoundedAndExpire(t *testing.T) {
	size := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
	b := newBudgets(2, 50, 100, size)
	now := time.Unix(1_800_000_000, 0)

	a1 := b.acquire("r", "ann", now)
	for range 5 {
		a1.messages.AllowN(now, 1)
	}
	b.release(a1)
	a2 := b.acquire("r", "ann", now) // a reconnect
	if a2 != a1 || a2.messages.AllowN(now, 1) {
		t.Fatal("a reconnect got a fresh message budget")
	}
	if b.acquire("other-room", "ann", now) == a2 {
		t.Fatal("budgets are per room")
	}
	// Full of live budgets: a newcomer gets a private one, the table stays at 2.
	bob := b.acquire("r", "bob", now)
	if b.len() != 2 || bob == nil {
		t.Fatalf("table has %d budgets", b.len())
	}
	b.release(bob)
	// ann's budget is in use and not full: never forgotten.
	later := now.Add(time.Hour)
	b.release(a2)
	a3 := b.acquire("r", "ann", now.Add(100*time.Millisecond))
	if a3 != a1 {
		t.Fatal("a budget still refilling was forgotten")
	}
	b.release(a3)
	// An hour later every bucket is full and unused: a newcomer's arrival
	// sweeps them.
	b.acquire("r", "carl", later)
	if b.len() > 2 {
		t.Fatalf("table grew to %d", b.len())
	}
	if got := b.acquire("r", "ann", later); got == a1 {
		t.Fatal("a full, unused budget was kept past a sweep that needed room")
	}
}
