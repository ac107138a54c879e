package impair

import (
	"math/rand"
	"time"
)

// fate is what happens to one packet.
type fate struct {
	drop     bool
	copies   int           // 1, or 2 when duplicated
	delay    time.Duration // from arrival to release
	dupDelay time.Duration // extra delay of the second copy
	// Damage: flip the byte at corruptAt (if ≥ 0), keep only the first
	// truncateTo bytes (if ≥ 0).
	corruptAt, truncateTo int
}

// chooser decides each packet's fate from one seeded generator, in arrival
// order: the same seed and the same arrivals give the same fates. Not safe
// for concurrent use; the relay serialises calls per direction.
type chooser struct {
	cfg    Config
	rng    *rand.Rand
	damage *rand.Rand // its own stream, so damage never shifts other fates
	bad    bool       // Gilbert–Elliott state

	// The rate-limited link: when it is next free to start sending.
	linkFree time.Time
}

func newChooser(cfg Config) *chooser {
	cfg = cfg.withDefaults()
	return &chooser{cfg: cfg, rng: rand.New(rand.NewSource(cfg.Seed)), damage: rand.New(rand.NewSource(cfg.Seed ^ 0x5eed))}
}

// decide draws the fate of a packet of size bytes arriving at now. It draws
// the same number of random values for every packet, whatever the outcome,
// so that one decision never shifts the others.
func (c *chooser) decide(size int, now time.Time) fate {
	lossDraw := c.rng.Float64()
	stateDraw := c.rng.Float64()
	dupDraw := c.rng.Float64()
	reorderDraw := c.rng.Float64()
	jitterDraw := c.rng.Float64()

	var lost bool
	if c.cfg.bursty() {
		// Move first, then lose according to the new state: bursts then
		// last 1/R packets on average and the loss rate is P/(P+R).
		if c.bad {
			c.bad = stateDraw >= c.cfg.Burst.R
		} else {
			c.bad = stateDraw < c.cfg.Burst.P
		}
		lost = c.bad
	} else {
		lost = lossDraw < c.cfg.Loss
	}
	if lost {
		return fate{drop: true}
	}

	f := fate{copies: 1, delay: c.cfg.Delay, corruptAt: -1, truncateTo: -1}
	if dupDraw < c.cfg.Duplicate {
		f.copies = 2
		f.dupDelay = c.cfg.ReplayAfter
	}
	if c.cfg.Corrupt > 0 && c.damage.Float64() < c.cfg.Corrupt && size > 12 {
		f.corruptAt = 12 + c.damage.Intn(size-12)
	}
	if c.cfg.Truncate > 0 && c.damage.Float64() < c.cfg.Truncate && size > 1 {
		f.truncateTo = c.damage.Intn(size)
	}
	if c.cfg.Jitter > 0 {
		f.delay += time.Duration(jitterDraw * float64(c.cfg.Jitter))
	}
	if reorderDraw < c.cfg.Reorder {
		f.delay += c.cfg.ReorderBy
	}
	if c.cfg.RateBps > 0 {
		start := now
		if c.linkFree.After(now) {
			start = c.linkFree
		}
		// Bytes still waiting for the link ahead of this packet.
		backlog := int64(start.Sub(now)) * c.cfg.RateBps / 8 / int64(time.Second)
		if backlog+int64(size) > int64(c.cfg.QueueBytes) {
			return fate{drop: true}
		}
		serialize := time.Duration(int64(size) * 8 * int64(time.Second) / c.cfg.RateBps)
		c.linkFree = start.Add(serialize)
		f.delay += c.linkFree.Sub(now)
	}
	return f
}
