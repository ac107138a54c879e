package seat

import (
	"fmt"
	"testing"
	"time"
)

func benchRoom(b *testing.B, members int) *Room {
	b.Helper()
	r, err := New(Config{RoomID: "bench", MaxSeats: 10, Owner: owner, Grace: 15 * time.Second, Clock: newClock()})
	if err != nil {
		b.Fatal(err)
	}
	for i := range members {
		if _, _, err := r.Join(user(fmt.Sprintf("v%05d", i), RoleAudience)); err != nil {
			b.Fatal(err)
		}
	}
	return r
}

// BenchmarkApplyAcceptLeave: one guest cycle (apply, accept, leave the
// seat) in a room with 1 000 viewers; ops/s counts the three operations.
func BenchmarkApplyAcceptLeave(b *testing.B) {
	r := benchRoom(b, 1000)
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprintf("v%05d", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := ids[i%len(ids)]
		if _, _, err := r.Apply(id, NoSeat, 30, ""); err != nil {
			b.Fatal(err)
		}
		if _, _, err := r.AcceptApplication("owner", id); err != nil {
			b.Fatal(err)
		}
		if _, err := r.LeaveSeat(id); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(3*b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkQueue10k: 10 000 viewers apply (with timeouts), then the owner
// answers every one in order — accepting every other (the guest then
// leaves the seat) and rejecting the rest. ops/s counts every operation.
func BenchmarkQueue10k(b *testing.B) {
	const n = 10_000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("v%05d", i)
	}
	ops := 0
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := benchRoom(b, n)
		b.StartTimer()
		for _, id := range ids {
			if _, _, err := r.Apply(id, NoSeat, 60, "let me sing"); err != nil {
				b.Fatal(err)
			}
		}
		for j, id := range ids {
			if j%2 == 0 {
				if _, _, err := r.AcceptApplication("owner", id); err != nil {
					b.Fatal(err)
				}
				if _, err := r.LeaveSeat(id); err != nil {
					b.Fatal(err)
				}
				ops += 2
			} else {
				if _, err := r.RejectApplication("owner", id); err != nil {
					b.Fatal(err)
				}
				ops++
			}
		}
		ops += n
		if r.pending.n != 0 || r.deadlines.len() != 0 {
			b.Fatalf("%d requests left pending", r.pending.n)
		}
	}
	b.ReportMetric(float64(ops)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkHostSnapshot10k: a host joining a room with 10 000 pending
// applications (the one place the controller must walk them all).
func BenchmarkHostSnapshot10k(b *testing.B) {
	r := benchRoom(b, 10_000)
	for i := range 10_000 {
		if _, _, err := r.Apply(fmt.Sprintf("v%05d", i), NoSeat, 0, ""); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		snap, _, err := r.Join(owner)
		if err != nil || len(snap.Requests) != 10_000 {
			b.Fatalf("snapshot: %d requests, %v", len(snap.Requests), err)
		}
	}
}
