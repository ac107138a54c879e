// Package impair is a userspace UDP impairment relay for tests and load
// runs: this kernel has no tc netem, so loss, bursts, delay, jitter,
// reordering, duplication, a rate cap and a black hole are applied by a
// process that sits between a client and a UDP server.
//
// Every decision comes from a seeded generator, so one client's packets meet
// the same fate in the same order on every run. DTLS records pass
// unimpaired (relay.go, isDTLS); a black hole still takes them.
package impair

import (
	"fmt"
	"math"
	"time"
)

// Direction names one way through the relay.
type Direction int

// The two directions.
const (
	ClientToTarget Direction = iota
	TargetToClient
)

func (d Direction) String() string {
	switch d {
	case ClientToTarget:
		return "client→target"
	case TargetToClient:
		return "target→client"
	}
	return fmt.Sprintf("direction(%d)", int(d))
}

// Burst turns independent (Bernoulli) loss into a Gilbert–Elliott chain:
// a good state that loses nothing and a bad state that loses everything.
// Set either P and R, or MeanBurst (then R = 1/MeanBurst and P is chosen so
// the long-run loss equals Config.Loss).
type Burst struct {
	P         float64 // per-packet probability good → bad
	R         float64 // per-packet probability bad → good
	MeanBurst float64 // mean number of packets lost in a row
}

// Config is one direction's impairment. The zero value forwards everything
// at once.
type Config struct {
	Seed      int64
	Loss      float64 // probability a packet is lost (Bernoulli, or the target of MeanBurst)
	Burst     Burst
	Delay     time.Duration // added to every packet
	Jitter    time.Duration // uniform extra delay in [0, Jitter)
	Reorder   float64       // probability a packet is held back ReorderBy so later ones overtake it
	ReorderBy time.Duration // default 10 ms
	Duplicate float64       // probability a packet is sent twice (for SRTP: a replay)
	// ReplayAfter delays a duplicate's second copy, so it arrives as a
	// replay of a packet long since received (0: right behind the first).
	ReplayAfter time.Duration
	// Corrupt is the probability a packet gets one byte flipped past its
	// first 12 (for SRTP/SRTCP: an authentication failure); Truncate the
	// probability it is cut to a random shorter length. Neither changes
	// the fates the other fields draw.
	Corrupt  float64
	Truncate float64
	RateBps  int64 // link rate in bit/s; 0 = unlimited
	// QueueBytes bounds the backlog of the rate-limited link; a packet that
	// would overflow it is dropped (default 64 KiB).
	QueueBytes int
	// QueueLen bounds the packets waiting for their release time; beyond it
	// packets are dropped (default 4096).
	QueueLen int
}

// Validate reports the first nonsensical field.
func (c Config) Validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"Loss", c.Loss}, {"Reorder", c.Reorder}, {"Duplicate", c.Duplicate}, {"Corrupt", c.Corrupt}, {"Truncate", c.Truncate}, {"Burst.P", c.Burst.P}, {"Burst.R", c.Burst.R}} {
		if math.IsNaN(p.v) || p.v < 0 || p.v > 1 {
			return fmt.Errorf("impair: %s = %v, want a probability in [0, 1]", p.name, p.v)
		}
	}
	if c.Burst.MeanBurst != 0 && (math.IsNaN(c.Burst.MeanBurst) || c.Burst.MeanBurst < 1) {
		return fmt.Errorf("impair: Burst.MeanBurst = %v, want ≥ 1", c.Burst.MeanBurst)
	}
	if c.Burst.MeanBurst != 0 && c.Loss >= 1 {
		return fmt.Errorf("impair: Burst.MeanBurst needs Loss < 1")
	}
	if c.Delay < 0 || c.Jitter < 0 || c.ReorderBy < 0 || c.ReplayAfter < 0 {
		return fmt.Errorf("impair: negative delay")
	}
	if c.RateBps < 0 || c.QueueBytes < 0 || c.QueueLen < 0 {
		return fmt.Errorf("impair: negative rate or queue bound")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.ReorderBy == 0 {
		c.ReorderBy = 10 * time.Millisecond
	}
	if c.QueueBytes == 0 {
		c.QueueBytes = 64 << 10
	}
	if c.QueueLen == 0 {
		c.QueueLen = 4096
	}
	if c.Burst.MeanBurst >= 1 {
		c.Burst.R = 1 / c.Burst.MeanBurst
		// Stationary bad-state probability P/(P+R) = Loss.
		c.Burst.P = c.Loss * c.Burst.R / (1 - c.Loss)
		if c.Burst.P > 1 {
			c.Burst.P = 1
		}
	}
	return c
}

func (c Config) bursty() bool { return c.Burst.P > 0 || c.Burst.R > 0 }
