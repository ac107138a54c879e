// Package synth generates codec-valid RTP without an encoder: VP8 frames
// (RFC 7741 payload descriptor, periodic keyframes) and Opus frames at the
// sizes a real encoder produces for a target bitrate. Every payload ends in a
// 20-byte stamp carrying the stream id, a packet index and the send time, so
// a viewer can tell which publisher a packet came from, whether any was lost
// and how long it travelled, whatever the SFU did to SSRCs and sequence
// numbers.
package synth

import (
	"encoding/binary"
	"errors"

	"golang.org/x/sys/unix"
)

// StampLen is the size of the trailer appended to every payload.
const StampLen = 20

// stampMagic marks a payload as ours; a viewer ignores packets without it
// (padding-only probes, for instance) instead of misreading them.
const stampMagic uint32 = 0x53464221 // "SFB!"

// ErrNoStamp is returned for a payload that does not end in a stamp.
var ErrNoStamp = errors.New("synth: payload carries no stamp")

// Stamp is what a payload's trailer says.
type Stamp struct {
	StreamID uint32
	// Index counts the stream's packets from 0: a viewer measures loss on
	// it end to end, even through an SFU that rewrites sequence numbers
	// and would hide a dropped packet.
	Index  uint32
	SentNs int64 // CLOCK_MONOTONIC nanoseconds
}

// PutStamp writes s into the last StampLen bytes of payload.
func PutStamp(payload []byte, s Stamp) {
	t := payload[len(payload)-StampLen:]
	binary.BigEndian.PutUint32(t[0:], stampMagic)
	binary.BigEndian.PutUint32(t[4:], s.StreamID)
	binary.BigEndian.PutUint32(t[8:], s.Index)
	binary.BigEndian.PutUint64(t[12:], uint64(s.SentNs))
}

// ReadStamp reads the trailer of payload.
func ReadStamp(payload []byte) (Stamp, error) {
	if len(payload) < StampLen {
		return Stamp{}, ErrNoStamp
	}
	t := payload[len(payload)-StampLen:]
	if binary.BigEndian.Uint32(t[0:]) != stampMagic {
		return Stamp{}, ErrNoStamp
	}
	return Stamp{
		StreamID: binary.BigEndian.Uint32(t[4:]),
		Index:    binary.BigEndian.Uint32(t[8:]),
		SentNs:   int64(binary.BigEndian.Uint64(t[12:])),
	}, nil
}

// MonoNow is CLOCK_MONOTONIC in nanoseconds: one clock for every process on
// the machine, so a stamp written by one process can be read by another.
func MonoNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}
