package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/internal/redistest"
)

// BenchmarkSave is one seat change reaching Redis: the fenced save script
// with a blob the size of a busy room's state.
func BenchmarkSave(b *testing.B) {
	r := redistest.Start(b)
	s, err := Open(Options{URL: r.URL()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	l, err := s.Claim(ctx, "room1", "a", time.Minute, 0)
	if err != nil {
		b.Fatal(err)
	}
	blob := make([]byte, 2048)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Save(ctx, l, time.Minute, uint64(i+1), blob); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenewAll1000 is one tick's renewal of a node hosting 1000 rooms.
func BenchmarkRenewAll1000(b *testing.B) {
	r := redistest.Start(b)
	s, err := Open(Options{URL: r.URL()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	ls := make([]Lease, 1000)
	for i := range ls {
		if ls[i], err = s.Claim(ctx, fmt.Sprintf("room%d", i), "a", time.Minute, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		res, err := s.RenewAll(ctx, ls, time.Minute)
		if err != nil || len(res) != len(ls) || res[0].Err != nil {
			b.Fatal(res[0], err)
		}
	}
}
