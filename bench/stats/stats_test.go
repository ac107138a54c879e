package stats

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 {
		t.Fatal("empty histogram has a median")
	}
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.95, 950 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {0, time.Millisecond}} {
		got := h.Quantile(c.q)
		if diff := float64(got-c.want) / float64(c.want); diff > 0.04 || diff < -0.04 {
			t.Errorf("q%.2f = %v, want %v ±4%%", c.q, got, c.want)
		}
	}
	if h.Count() != 1000 {
		t.Fatalf("Count = %d", h.Count())
	}
	var m Histogram
	m.Merge(&h)
	m.Record(-5)
	if m.Count() != 1001 || m.Quantile(0) != 0 {
		t.Fatalf("merge: count %d min %v", m.Count(), m.Quantile(0))
	}
	vs, fs := h.CDF()
	if len(vs) == 0 || fs[len(fs)-1] != 1 {
		t.Fatalf("CDF does not end at 1: %v", fs)
	}
	for i := 1; i < len(vs); i++ {
		if vs[i] <= vs[i-1] || fs[i] < fs[i-1] {
			t.Fatalf("CDF not monotonic at %d", i)
		}
	}
}

func TestHistogramBucketsAreContinuous(t *testing.T) {
	prev := -1
	for v := uint64(0); v < 1<<20; v++ {
		b := bucketOf(v)
		if b != prev && b != prev+1 {
			t.Fatalf("bucket jumps from %d to %d at %d", prev, b, v)
		}
		prev = b
	}
	if b := bucketOf(1 << 50); b >= numBuckets {
		t.Fatalf("huge value maps to bucket %d of %d", b, numBuckets)
	}
}

func TestSeqCleanStreamAcrossWrap(t *testing.T) {
	var s Seq
	for i := 0; i < 70000; i++ {
		s.Push(uint16(65000 + i))
	}
	c := s.Counts()
	if s.Expected() != 70000 || c.Unique != 70000 || c.Gaps != 0 || c.Late != 0 || c.Duplicates != 0 || s.Unrecovered() != 0 {
		t.Fatalf("clean stream: expected %d counts %+v", s.Expected(), c)
	}
}

func TestSeqLossDuplicatesAndRecovery(t *testing.T) {
	var s Seq
	for _, q := range []uint16{10, 11, 13, 14, 14, 12, 17, 16, 20} {
		s.Push(q)
	}
	// 10..20 expected = 11; missing 15,18,19; 12 and 16 came late; one dup.
	c := s.Counts()
	if s.Expected() != 11 || c.Unique != 8 || c.Duplicates != 1 || c.Late != 2 || c.Gaps != 5 || s.Unrecovered() != 3 {
		t.Fatalf("expected %d unrecovered %d counts %+v", s.Expected(), s.Unrecovered(), c)
	}
}

// Random loss, duplication and local reordering: the tracker's unique count
// always equals the number of distinct sequence numbers delivered.
func TestSeqMatchesGroundTruth(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var s Seq
	delivered := map[int]bool{}
	var arrivals []int
	for i := 0; i < 20000; i++ {
		if r.IntN(100) < 3 {
			continue // lost
		}
		arrivals = append(arrivals, i)
		if r.IntN(100) < 2 {
			arrivals = append(arrivals, i) // duplicated
		}
	}
	for i := 1; i < len(arrivals); i++ { // swap neighbours: reorder
		if r.IntN(100) < 5 {
			arrivals[i], arrivals[i-1] = arrivals[i-1], arrivals[i]
		}
	}
	first, highest := arrivals[0], 0
	for _, a := range arrivals {
		s.Push(uint16(a + 60000))
		delivered[a] = true
		highest = max(highest, a)
	}
	// A swap can put a later packet first; the tracker then counts the
	// earlier one as late but still unique.
	if got, want := s.Counts().Unique, uint64(len(delivered)); got != want {
		t.Fatalf("unique %d, want %d", got, want)
	}
	if got, want := s.Expected(), uint64(highest-first+1); got != want {
		t.Fatalf("expected %d, want %d", got, want)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	for b.Loop() {
		h.Record(3 * time.Millisecond)
	}
}
