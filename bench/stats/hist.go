// Package stats holds what a viewer measures: a lock-free latency
// histogram and a per-stream sequence tracker (loss, duplicates, reorder).
package stats

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// subBits sets the histogram's precision: 2^subBits sub-buckets per power of
// two, so any recorded value is reported within ~3 %.
const (
	subBits    = 5
	subCount   = 1 << subBits
	maxExp     = 40 // values are capped at 2^40 ns ≈ 18 minutes
	numBuckets = (maxExp + 2) * subCount
)

// Histogram counts durations in log-linear buckets. Record is safe from many
// goroutines at once and allocates nothing; a viewer's tracks share one.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	total  atomic.Uint64
}

func bucketOf(v uint64) int {
	if v < 2*subCount {
		return int(v)
	}
	if v >= 1<<maxExp {
		v = 1<<maxExp - 1
	}
	e := bits.Len64(v) - (subBits + 1)
	return e*subCount + int(v>>e)
}

// bucketValue is the middle of bucket i.
func bucketValue(i int) uint64 {
	if i < 2*subCount {
		return uint64(i)
	}
	e := i/subCount - 1
	m := uint64(i - e*subCount)
	return m<<e + (1<<e)/2
}

// Record counts one duration; negative ones count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(0)
	if d > 0 {
		v = uint64(d)
	}
	h.counts[bucketOf(v)].Add(1)
	h.total.Add(1)
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.total.Load() }

// Merge adds o's counts into h.
func (h *Histogram) Merge(o *Histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c > 0 {
			h.counts[i].Add(c)
		}
	}
	h.total.Add(o.total.Load())
}

// Quantile returns the q-quantile (0..1), or 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	total := h.total.Load()
	if total == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := uint64(q*float64(total-1)) + 1
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return time.Duration(bucketValue(i))
		}
	}
	return time.Duration(bucketValue(numBuckets - 1))
}

// CDF returns (value, fraction ≤ value) points for every non-empty bucket,
// for plotting.
func (h *Histogram) CDF() (values []time.Duration, fractions []float64) {
	total := h.total.Load()
	if total == 0 {
		return nil, nil
	}
	var seen uint64
	for i := range h.counts {
		c := h.counts[i].Load()
		if c == 0 {
			continue
		}
		seen += c
		values = append(values, time.Duration(bucketValue(i)))
		fractions = append(fractions, float64(seen)/float64(total))
	}
	return values, fractions
}
