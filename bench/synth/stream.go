package synth

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Kind is a stream's media kind.
type Kind string

const (
	Video Kind = "video" // VP8
	Audio Kind = "audio" // Opus
)

// Clock rates of the two codecs (RFC 7741, RFC 7587).
const (
	VP8ClockRate  = 90000
	OpusClockRate = 48000
)

// Spec describes one synthetic stream.
type Spec struct {
	StreamID uint32
	Kind     Kind
	Bitrate  int // bits per second, averaged over a keyframe interval
	// FPS is the video frame rate; audio always sends 20 ms frames.
	FPS int
	// KeyframeEvery is the video keyframe interval.
	KeyframeEvery time.Duration
	// MaxPayload bounds one RTP payload (stamp included); 1100 bytes leaves
	// room for RTP and SRTP headers under a 1200-byte MTU, as browsers do.
	MaxPayload int
}

// HostVideo, GuestVideo and Voice are the profiles of the fan-out scenario:
// a 1.5 Mbit/s host camera, 300 kbit/s guest cameras, 40 kbit/s Opus.
func HostVideo(id uint32) Spec {
	return Spec{StreamID: id, Kind: Video, Bitrate: 1_500_000, FPS: 30, KeyframeEvery: 2 * time.Second}
}

func GuestVideo(id uint32) Spec {
	return Spec{StreamID: id, Kind: Video, Bitrate: 300_000, FPS: 30, KeyframeEvery: 2 * time.Second}
}

func Voice(id uint32) Spec {
	return Spec{StreamID: id, Kind: Audio, Bitrate: 40_000}
}

// keyframeWeight is how much larger a keyframe is than an average delta
// frame; real VP8 camera streams sit around 4-8×.
const keyframeWeight = 5

// vp8DescLen is the RFC 7741 descriptor we write: X=1, I=1 with a 15-bit
// PictureID, as browsers send it.
const vp8DescLen = 4

// Frame is one media frame cut into RTP payloads. The payloads are the
// stream's own buffers: valid until the next call to Next.
type Frame struct {
	Payloads  [][]byte
	Keyframe  bool
	Timestamp uint32 // RTP timestamp (units of the clock rate)
	Duration  time.Duration
}

// Stream produces a spec's frames one after another. Every payload is cut
// from templates built once, so producing a frame costs a few copies and no
// allocation. A Stream is not safe for concurrent use.
type Stream struct {
	spec      Spec
	interval  time.Duration
	tsStep    uint32
	gop       int // frames per keyframe interval
	keySize   int
	deltaSize []int  // a small cycle of delta sizes, so packets vary like a real encoder's
	n         int    // frames since the last keyframe cycle began (ForceKeyframe resets it)
	frames    uint32 // frames produced: the RTP clock, which never rewinds
	index     uint32 // packets produced
	pictureID uint16
	bufs      [][]byte
	out       Frame
}

// NewStream checks spec and prepares its templates.
func NewStream(spec Spec) (*Stream, error) {
	if spec.MaxPayload == 0 {
		spec.MaxPayload = 1100
	}
	if spec.MaxPayload < 64 || spec.MaxPayload > 1400 {
		return nil, fmt.Errorf("synth: MaxPayload %d outside 64..1400", spec.MaxPayload)
	}
	if spec.Bitrate <= 0 {
		return nil, errors.New("synth: bitrate must be positive")
	}
	s := &Stream{spec: spec}
	switch spec.Kind {
	case Audio:
		s.interval = 20 * time.Millisecond
		s.tsStep = OpusClockRate / 50
		s.gop = 1
		size := spec.Bitrate / 8 / 50
		s.deltaSize = []int{max(size, 1+StampLen)}
	case Video:
		if spec.FPS <= 0 || spec.FPS > 120 {
			return nil, fmt.Errorf("synth: FPS %d outside 1..120", spec.FPS)
		}
		if spec.KeyframeEvery <= 0 {
			return nil, errors.New("synth: video needs a keyframe interval")
		}
		s.interval = time.Second / time.Duration(spec.FPS)
		s.tsStep = uint32(VP8ClockRate / spec.FPS)
		s.gop = max(1, int(spec.KeyframeEvery/s.interval))
		avg := spec.Bitrate / 8 / spec.FPS
		// keyframe + (gop-1) deltas average to avg bytes per frame.
		delta := avg * s.gop / (s.gop - 1 + keyframeWeight)
		s.keySize = max(delta*keyframeWeight, 64)
		for _, pct := range []int{100, 80, 120, 90, 110, 100, 85, 115} {
			s.deltaSize = append(s.deltaSize, max(delta*pct/100, 32))
		}
	default:
		return nil, fmt.Errorf("synth: unknown kind %q", spec.Kind)
	}
	return s, nil
}

// Spec returns the stream's spec.
func (s *Stream) Spec() Spec { return s.spec }

// Interval is the time between two frames.
func (s *Stream) Interval() time.Duration { return s.interval }

// ClockRate is the RTP clock rate of the stream's codec.
func (s *Stream) ClockRate() uint32 {
	if s.spec.Kind == Audio {
		return OpusClockRate
	}
	return VP8ClockRate
}

// PacketsPerSecond is the stream's average packet rate.
func (s *Stream) PacketsPerSecond() float64 {
	if s.spec.Kind == Audio {
		return 50
	}
	total := s.packetsFor(s.keySize, true)
	for i := 1; i < s.gop; i++ {
		total += s.packetsFor(s.deltaSize[i%len(s.deltaSize)], false)
	}
	return float64(total) / float64(s.gop) * float64(s.spec.FPS)
}

// ForceKeyframe makes the next frame a keyframe, as an encoder does on PLI.
func (s *Stream) ForceKeyframe() {
	if s.spec.Kind == Video {
		s.n = 0
	}
}

func (s *Stream) room() int {
	if s.spec.Kind == Audio {
		return s.spec.MaxPayload - StampLen
	}
	return s.spec.MaxPayload - StampLen - vp8DescLen
}

func (s *Stream) packetsFor(size int, key bool) int {
	if key {
		size += 10 // frame tag, start code, dimensions
	}
	return (size + s.room() - 1) / s.room()
}

// Next returns the next frame, its payloads stamped with the stream id and
// sentNs.
func (s *Stream) Next(sentNs int64) *Frame {
	idx := s.n % s.gop
	key := s.spec.Kind == Video && idx == 0
	size := s.deltaSize[s.n%len(s.deltaSize)]
	if key {
		size = s.keySize
	}
	s.out = Frame{
		Payloads:  s.out.Payloads[:0],
		Keyframe:  key,
		Timestamp: s.frames * s.tsStep,
		Duration:  s.interval,
	}
	if s.spec.Kind == Audio {
		s.out.Payloads = append(s.out.Payloads, s.opus(size))
	} else {
		s.vp8(size, key)
	}
	for _, p := range s.out.Payloads {
		PutStamp(p, Stamp{StreamID: s.spec.StreamID, Index: s.index, SentNs: sentNs})
		s.index++
	}
	s.n++
	s.frames++
	return &s.out
}

func (s *Stream) buf(i, n int) []byte {
	for len(s.bufs) <= i {
		s.bufs = append(s.bufs, make([]byte, s.spec.MaxPayload))
	}
	return s.bufs[i][:n]
}

// opus builds one 20 ms frame: a TOC byte for CELT fullband 20 ms, mono,
// one frame (RFC 6716 §3.1: config 31, s=0, c=0), then filler and the stamp.
func (s *Stream) opus(size int) []byte {
	p := s.buf(0, size+StampLen)
	p[0] = 31 << 3
	for i := 1; i < len(p)-StampLen; i++ {
		p[i] = byte(i*7 + s.n)
	}
	return p
}

// vp8 cuts one frame into packets, each with the RFC 7741 descriptor; only
// the first has S=1, and it starts with the VP8 payload header whose P bit
// says keyframe (clear) or interframe (set).
func (s *Stream) vp8(size int, key bool) {
	s.pictureID = (s.pictureID + 1) & 0x7fff
	body := size
	if key {
		body += 10
	}
	room := s.room()
	for i := 0; body > 0; i++ {
		n := min(body, room)
		body -= n
		p := s.buf(i, vp8DescLen+n+StampLen)
		p[0] = 0x80 // X
		if i == 0 {
			p[0] |= 0x10 // S, partition 0
		}
		p[1] = 0x80 // I
		binary.BigEndian.PutUint16(p[2:], 0x8000|s.pictureID)
		data := p[vp8DescLen : vp8DescLen+n]
		for j := range data {
			data[j] = byte(j + i)
		}
		if i == 0 {
			writeVP8Header(data, size, key)
		}
		s.out.Payloads = append(s.out.Payloads, p)
	}
}

// writeVP8Header writes the 3-byte frame tag (RFC 6386 §9.1) and, for a
// keyframe, the start code and a 1280×720 size.
func writeVP8Header(d []byte, size int, key bool) {
	const showFrame = 0x10
	first := uint32(min(size, 0x7ffff)) << 5
	tag := first | showFrame
	if !key {
		tag |= 0x01 // P: interframe
	}
	if len(d) >= 3 {
		d[0], d[1], d[2] = byte(tag), byte(tag>>8), byte(tag>>16)
	}
	if key && len(d) >= 10 {
		d[3], d[4], d[5] = 0x9d, 0x01, 0x2a
		binary.LittleEndian.PutUint16(d[6:], 1280)
		binary.LittleEndian.PutUint16(d[8:], 720)
	}
}
