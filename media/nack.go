package media

import (
	"time"

	"github.com/pion/rtcp"
)

// lossWindow is how many sequence numbers behind the newest a LossDetector
// tracks; anything older is given up. It also bounds its memory.
const lossWindow = 512

// LossConfig tunes a LossDetector. Zero fields take the defaults.
type LossConfig struct {
	// FirstDelay is how long a gap may be waited on before its first NACK,
	// to let reordered packets arrive (default 5 ms).
	FirstDelay time.Duration
	// Interval spaces the retries of one packet: about one round trip
	// (default 100 ms; see SetInterval).
	Interval time.Duration
	// Retries is how many NACKs one packet gets at most (default 3).
	Retries int
	// MaxAge gives a packet up this long after it was found missing
	// (default 1 s).
	MaxAge time.Duration
	// MaxJump is the largest sequence jump treated as loss; a bigger jump,
	// either way, means the sender restarted and resets the detector
	// (default 400, below lossWindow).
	MaxJump int
}

func (c *LossConfig) fill() {
	if c.FirstDelay <= 0 {
		c.FirstDelay = 5 * time.Millisecond
	}
	if c.Interval <= 0 {
		c.Interval = 100 * time.Millisecond
	}
	if c.Retries <= 0 {
		c.Retries = 3
	}
	if c.MaxAge <= 0 {
		c.MaxAge = time.Second
	}
	if c.MaxJump <= 0 || c.MaxJump >= lossWindow {
		c.MaxJump = 400
	}
}

// LossDetector finds the packets missing from a publisher's stream and says
// when to NACK each: at most Retries times, Interval apart, never past
// MaxAge. Its memory is fixed whatever the input. It is not safe for
// concurrent use (one up-track reader owns it).
type LossDetector struct {
	cfg     LossConfig
	started bool
	newest  uint16
	slots   [lossWindow]lossSlot
	resets  uint64
	given   uint64
}

type lossSlot struct {
	missing bool
	seq     uint16
	tries   uint8
	since   time.Time // when the gap was seen
	next    time.Time // when the next NACK is due
}

// NewLossDetector returns a detector tuned by cfg.
func NewLossDetector(cfg LossConfig) *LossDetector {
	cfg.fill()
	return &LossDetector{cfg: cfg}
}

// SetInterval sets the retry spacing, typically to the measured round trip.
func (d *LossDetector) SetInterval(rtt time.Duration) {
	if rtt > 0 {
		d.cfg.Interval = rtt
	}
}

// Push records the arrival of packet seq at now.
func (d *LossDetector) Push(seq uint16, now time.Time) {
	if !d.started {
		d.reset(seq)
		return
	}
	delta := int(int16(seq - d.newest))
	switch {
	case delta > d.cfg.MaxJump || delta < -d.cfg.MaxJump:
		d.resets++
		d.reset(seq)
	case delta > 0:
		due := now.Add(d.cfg.FirstDelay)
		for s := d.newest + 1; s != seq; s++ {
			sl := &d.slots[s%lossWindow]
			if sl.missing {
				d.given++ // a whole window later: too old to matter
			}
			*sl = lossSlot{missing: true, seq: s, since: now, next: due}
		}
		if sl := &d.slots[seq%lossWindow]; sl.missing {
			d.given++
		}
		d.slots[seq%lossWindow] = lossSlot{seq: seq}
		d.newest = seq
	default: // late or retransmitted: no longer missing
		if sl := &d.slots[seq%lossWindow]; sl.missing && sl.seq == seq {
			sl.missing = false
		}
	}
}

func (d *LossDetector) reset(seq uint16) {
	d.started = true
	d.newest = seq
	d.slots = [lossWindow]lossSlot{}
}

// Missing appends to dst the sequence numbers to NACK at now, oldest first,
// and counts them as tried. Packets out of retries or past MaxAge are given
// up.
func (d *LossDetector) Missing(now time.Time, dst []uint16) []uint16 {
	if !d.started {
		return dst
	}
	// Walk the window oldest first so the NACK list comes out sorted.
	for i := lossWindow - 1; i >= 1; i-- {
		s := d.newest - uint16(i)
		sl := &d.slots[s%lossWindow]
		if !sl.missing || sl.seq != s {
			continue
		}
		if int(sl.tries) >= d.cfg.Retries || now.Sub(sl.since) > d.cfg.MaxAge {
			sl.missing = false
			d.given++
			continue
		}
		if now.Before(sl.next) {
			continue
		}
		sl.tries++
		sl.next = now.Add(d.cfg.Interval)
		dst = append(dst, s)
	}
	return dst
}

// GivenUp counts packets abandoned without arriving.
func (d *LossDetector) GivenUp() uint64 { return d.given }

// Resets counts sequence jumps that restarted the detector.
func (d *LossDetector) Resets() uint64 { return d.resets }

// AppendNackPairs encodes sequence numbers, in ascending order (as Missing
// returns them), into RFC 4585 generic NACK pairs appended to dst. Numbers
// out of order simply start a new pair.
func AppendNackPairs(dst []rtcp.NackPair, seqs []uint16) []rtcp.NackPair {
	for i := 0; i < len(seqs); {
		p := rtcp.NackPair{PacketID: seqs[i]}
		i++
		for ; i < len(seqs); i++ {
			off := seqs[i] - p.PacketID
			if off == 0 || off > 16 {
				break
			}
			p.LostPackets |= 1 << (off - 1)
		}
		dst = append(dst, p)
	}
	return dst
}

// AppendNackSeqs decodes NACK pairs into the sequence numbers they name,
// appended to dst, stopping after max numbers: a hostile viewer's NACK of
// thousands of pairs costs bounded work.
func AppendNackSeqs(dst []uint16, pairs []rtcp.NackPair, max int) []uint16 {
	n := 0
	for _, p := range pairs {
		if n >= max {
			return dst
		}
		dst = append(dst, p.PacketID)
		n++
		for b := uint16(0); b < 16 && n < max; b++ {
			if p.LostPackets&(1<<b) != 0 {
				dst = append(dst, p.PacketID+b+1)
				n++
			}
		}
	}
	return dst
}
