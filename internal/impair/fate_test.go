package impair

import (
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestBernoulliLossRatio(t *testing.T) {
	c := newChooser(Config{Seed: 1, Loss: 0.05})
	lost := 0
	const n = 100000
	for i := 0; i < n; i++ {
		if c.decide(100, t0).drop {
			lost++
		}
	}
	if r := float64(lost) / n; math.Abs(r-0.05) > 0.003 {
		t.Fatalf("loss ratio %.4f, want 0.05 ± 0.003", r)
	}
}

func TestDeterministicForSeed(t *testing.T) {
	cfg := Config{Seed: 42, Loss: 0.1, Duplicate: 0.05, Reorder: 0.1, Jitter: 5 * time.Millisecond}
	a, b, other := newChooser(cfg), newChooser(cfg), newChooser(Config{Seed: 43, Loss: 0.1})
	differs := false
	for i := 0; i < 10000; i++ {
		fa, fb := a.decide(100, t0), b.decide(100, t0)
		if fa != fb {
			t.Fatalf("packet %d: %+v vs %+v with the same seed", i, fa, fb)
		}
		if other.decide(100, t0).drop != fa.drop {
			differs = true
		}
	}
	if !differs {
		t.Fatal("another seed gave the very same losses")
	}
}

func TestGilbertElliottBursts(t *testing.T) {
	c := newChooser(Config{Seed: 7, Loss: 0.05, Burst: Burst{MeanBurst: 4}})
	const n = 200000
	lost, bursts, run := 0, 0, 0
	for i := 0; i < n; i++ {
		if c.decide(100, t0).drop {
			lost++
			run++
			continue
		}
		if run > 0 {
			bursts++
			run = 0
		}
	}
	if r := float64(lost) / n; math.Abs(r-0.05) > 0.01 {
		t.Fatalf("loss ratio %.4f, want 0.05 ± 0.01", r)
	}
	if mean := float64(lost) / float64(bursts); math.Abs(mean-4) > 0.4 {
		t.Fatalf("mean burst %.2f, want 4 ± 0.4", mean)
	}
	// Explicit P and R: bad-state share P/(P+R) = 0.1/(0.1+0.4) = 0.2.
	c = newChooser(Config{Seed: 8, Burst: Burst{P: 0.1, R: 0.4}})
	lost = 0
	for i := 0; i < n; i++ {
		if c.decide(100, t0).drop {
			lost++
		}
	}
	if r := float64(lost) / n; math.Abs(r-0.2) > 0.01 {
		t.Fatalf("loss ratio %.4f, want 0.2", r)
	}
}

func TestDelayJitterReorderDuplicate(t *testing.T) {
	c := newChooser(Config{Seed: 3, Delay: 20 * time.Millisecond, Jitter: 10 * time.Millisecond, Reorder: 0.2, ReorderBy: 50 * time.Millisecond, Duplicate: 0.1})
	held, dups := 0, 0
	const n = 10000
	for i := 0; i < n; i++ {
		f := c.decide(100, t0)
		if f.drop {
			t.Fatal("drop without loss configured")
		}
		if f.delay < 20*time.Millisecond || f.delay >= 80*time.Millisecond {
			t.Fatalf("delay %v outside [20ms, 80ms)", f.delay)
		}
		if f.delay >= 50*time.Millisecond {
			held++
		}
		if f.copies == 2 {
			dups++
		}
	}
	if r := float64(held) / n; math.Abs(r-0.2) > 0.02 {
		t.Fatalf("reorder share %.3f", r)
	}
	if r := float64(dups) / n; math.Abs(r-0.1) > 0.02 {
		t.Fatalf("duplicate share %.3f", r)
	}
}

func TestRateCapQueuesThenDrops(t *testing.T) {
	// 1 Mbit/s, 10 kB queue, 1000-byte packets all arriving at once: the
	// n-th leaves after n × 8 ms, and the 11th no longer fits.
	c := newChooser(Config{RateBps: 1_000_000, QueueBytes: 10_000})
	for i := 1; i <= 10; i++ {
		f := c.decide(1000, t0)
		if f.drop || f.delay != time.Duration(i)*8*time.Millisecond {
			t.Fatalf("packet %d: %+v", i, f)
		}
	}
	if !c.decide(1000, t0).drop {
		t.Fatal("packet beyond the queue bound not dropped")
	}
	// Once the link drained, packets flow again without queueing delay.
	if f := c.decide(1000, t0.Add(time.Second)); f.drop || f.delay != 8*time.Millisecond {
		t.Fatalf("after draining: %+v", f)
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []Config{
		{Loss: -0.1}, {Loss: 1.5}, {Loss: math.NaN()}, {Reorder: 2}, {Duplicate: -1},
		{Burst: Burst{P: 1.1}}, {Burst: Burst{MeanBurst: 0.5}}, {Loss: 1, Burst: Burst{MeanBurst: 2}},
		{Delay: -time.Second}, {RateBps: -1}, {QueueLen: -1},
	}
	for _, c := range bad {
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if err := (Config{Loss: 0.05, Burst: Burst{MeanBurst: 3}, Delay: time.Millisecond}).Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := New(nil, Config{}, Config{}); err == nil {
		t.Fatal("nil target accepted")
	}
}

// Corrupt and Truncate damage about their share of packets, within the
// packet, and leave every other fate as it was for the same seed.
func TestCorruptTruncateAndDelayedReplay(t *testing.T) {
	plain := newChooser(Config{Seed: 7, Loss: 0.1, Duplicate: 0.1})
	damaged := newChooser(Config{Seed: 7, Loss: 0.1, Duplicate: 0.1, ReplayAfter: time.Second, Corrupt: 0.2, Truncate: 0.1})
	now := time.Unix(0, 0)
	var corrupted, truncated, replays int
	const n = 10000
	for i := 0; i < n; i++ {
		a, b := plain.decide(100, now), damaged.decide(100, now)
		if a.drop != b.drop || a.copies != b.copies || a.delay != b.delay {
			t.Fatalf("packet %d: damage changed the fate %+v → %+v", i, a, b)
		}
		if b.drop {
			continue
		}
		if b.corruptAt >= 0 {
			corrupted++
			if b.corruptAt < 12 || b.corruptAt >= 100 {
				t.Fatalf("corrupt byte %d of 100", b.corruptAt)
			}
		}
		if b.truncateTo >= 0 {
			truncated++
			if b.truncateTo >= 100 {
				t.Fatalf("truncated to %d of 100", b.truncateTo)
			}
		}
		if b.copies == 2 {
			replays++
			if b.dupDelay != time.Second {
				t.Fatalf("replay delay %v", b.dupDelay)
			}
		}
	}
	kept := float64(n) * 0.9
	if c := float64(corrupted) / kept; c < 0.17 || c > 0.23 {
		t.Errorf("corrupted %.3f, want ~0.2", c)
	}
	if c := float64(truncated) / kept; c < 0.08 || c > 0.12 {
		t.Errorf("truncated %.3f, want ~0.1", c)
	}
	if replays == 0 {
		t.Error("no replays")
	}
	if err := (Config{Corrupt: 2}).Validate(); err == nil {
		t.Error("Corrupt 2 accepted")
	}
}
