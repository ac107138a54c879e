package stats

// window is how far back duplicates are recognised, in packets.
const window = 4096

// Seq follows one RTP stream's sequence numbers: unwraps them, and counts
// unique packets, duplicates, late (reordered or retransmitted) arrivals and
// gaps. It is owned by one reader goroutine; read its Counts after that
// goroutine is done.
type Seq struct {
	started bool
	base    uint64 // extended seq of the first packet
	highest uint64 // highest extended seq seen
	seen    [window / 64]uint64

	c SeqCounts
}

// SeqCounts is a stream's tally.
type SeqCounts struct {
	Packets    uint64 // every arrival, duplicates included
	Unique     uint64
	Duplicates uint64
	Late       uint64 // arrived after a higher seq: reordered or recovered by NACK
	// Gaps counts packets found missing when a later one arrived; Late
	// arrivals later fill some of them.
	Gaps uint64
}

// Expected is how many packets the sender sent between the first and the
// highest seen.
func (s *Seq) Expected() uint64 {
	if !s.started {
		return 0
	}
	return s.highest - s.base + 1
}

// Counts returns the tally.
func (s *Seq) Counts() SeqCounts { return s.c }

// Unrecovered is the number of packets still missing.
func (s *Seq) Unrecovered() uint64 {
	e := s.Expected()
	if s.c.Unique >= e {
		return 0
	}
	return e - s.c.Unique
}

func (s *Seq) bit(ext uint64) (word int, mask uint64) {
	i := ext % window
	return int(i / 64), 1 << (i % 64)
}

// Push records one packet's sequence number.
func (s *Seq) Push(seq uint16) {
	s.c.Packets++
	if !s.started {
		s.started = true
		s.base = 1 << 32 // room to unwrap backwards
		s.base += uint64(seq)
		s.highest = s.base
		s.mark(s.base)
		s.c.Unique++
		return
	}
	// Unwrap against the highest: the closest extended value to it.
	delta := int16(seq - uint16(s.highest))
	ext := uint64(int64(s.highest) + int64(delta))
	switch {
	case ext > s.highest:
		for x := s.highest + 1; x < ext && x <= s.highest+window; x++ {
			w, m := s.bit(x)
			s.seen[w] &^= m
		}
		if gap := ext - s.highest - 1; gap > 0 {
			s.c.Gaps += gap
		}
		if ext-s.highest > window {
			s.seen = [window / 64]uint64{}
		}
		s.highest = ext
		s.mark(ext)
		s.c.Unique++
	case ext < s.base || s.highest-ext >= window:
		// Older than anything we can tell apart: count it as late, not as
		// a new unique packet, so a stale replay never hides loss.
		s.c.Late++
	default:
		w, m := s.bit(ext)
		if s.seen[w]&m != 0 {
			s.c.Duplicates++
			return
		}
		s.seen[w] |= m
		s.c.Unique++
		s.c.Late++
	}
}

func (s *Seq) mark(ext uint64) {
	w, m := s.bit(ext)
	s.seen[w] |= m
}
