package synth

import (
	"math"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/media"
)

func TestStampRoundTrip(t *testing.T) {
	p := make([]byte, 40)
	PutStamp(p, Stamp{StreamID: 7, Index: 99, SentNs: 123456789})
	got, err := ReadStamp(p)
	if err != nil || got.StreamID != 7 || got.Index != 99 || got.SentNs != 123456789 {
		t.Fatalf("ReadStamp = %+v, %v", got, err)
	}
	if _, err := ReadStamp(p[:10]); err != ErrNoStamp {
		t.Fatalf("short payload: err = %v, want ErrNoStamp", err)
	}
	if _, err := ReadStamp(make([]byte, 40)); err != ErrNoStamp {
		t.Fatalf("zero payload: err = %v, want ErrNoStamp", err)
	}
}

func TestVideoFramesAreValidVP8(t *testing.T) {
	s, err := NewStream(HostVideo(3))
	if err != nil {
		t.Fatal(err)
	}
	var bytes, keyframes int
	var index uint32
	frames := 30 * 4 // four seconds: two keyframe intervals
	for i := 0; i < frames; i++ {
		f := s.Next(int64(i))
		if want := i%60 == 0; f.Keyframe != want {
			t.Fatalf("frame %d: keyframe = %v, want %v", i, f.Keyframe, want)
		}
		if f.Timestamp != uint32(i*3000) {
			t.Fatalf("frame %d: timestamp %d", i, f.Timestamp)
		}
		for j, p := range f.Payloads {
			if len(p) > 1100 {
				t.Fatalf("payload of %d bytes over the 1100 limit", len(p))
			}
			// The project's own parser must agree: only the first packet
			// of a keyframe starts one.
			if got := media.IsKeyframe(media.CodecVP8, p); got != (f.Keyframe && j == 0) {
				t.Fatalf("frame %d packet %d: IsKeyframe = %v", i, j, got)
			}
			if (p[0]&0x10 != 0) != (j == 0) {
				t.Fatalf("frame %d packet %d: S bit wrong", i, j)
			}
			st, err := ReadStamp(p)
			if err != nil || st.StreamID != 3 || st.SentNs != int64(i) || st.Index != index {
				t.Fatalf("stamp %+v, %v (want index %d)", st, err, index)
			}
			index++
			bytes += len(p)
		}
		if f.Keyframe {
			keyframes++
			if p := f.Payloads[0]; p[vp8DescLen+3] != 0x9d || p[vp8DescLen+4] != 0x01 || p[vp8DescLen+5] != 0x2a {
				t.Fatalf("keyframe without the VP8 start code")
			}
		}
	}
	if keyframes != 2 {
		t.Fatalf("%d keyframes in 4 s, want 2", keyframes)
	}
	// Within 10 % of 1.5 Mbit/s (the stamps and descriptors add a little).
	rate := float64(bytes*8) / 4
	if math.Abs(rate-1_500_000)/1_500_000 > 0.10 {
		t.Fatalf("bitrate %.0f bit/s, want about 1.5 Mbit/s", rate)
	}
	if pps := s.PacketsPerSecond(); pps < 150 || pps > 200 {
		t.Fatalf("PacketsPerSecond = %.1f, want about 170", pps)
	}
}

func TestOpusFrames(t *testing.T) {
	s, err := NewStream(Voice(9))
	if err != nil {
		t.Fatal(err)
	}
	if s.Interval() != 20*time.Millisecond || s.ClockRate() != 48000 {
		t.Fatalf("interval %v clock %d", s.Interval(), s.ClockRate())
	}
	for i := 0; i < 100; i++ {
		f := s.Next(1)
		if len(f.Payloads) != 1 || f.Keyframe || f.Timestamp != uint32(i*960) {
			t.Fatalf("frame %d: %+v", i, f)
		}
		p := f.Payloads[0]
		if p[0] != 0xf8 {
			t.Fatalf("TOC byte %#x, want CELT FB 20 ms mono", p[0])
		}
		if len(p) != 100+StampLen {
			t.Fatalf("payload %d bytes, want 120 (40 kbit/s at 50 fps + stamp)", len(p))
		}
	}
}

func TestForceKeyframe(t *testing.T) {
	s, _ := NewStream(GuestVideo(1))
	first := s.Next(0).Timestamp
	second := s.Next(0)
	if second.Keyframe {
		t.Fatal("second frame is a keyframe")
	}
	ts := second.Timestamp
	s.ForceKeyframe()
	f := s.Next(0)
	if !f.Keyframe {
		t.Fatal("ForceKeyframe did not make the next frame a keyframe")
	}
	// The clock keeps running, as an encoder's does: a forced keyframe
	// that rewound the RTP timestamp looks like a stream restart (LiveKit
	// drops such packets as old).
	if f.Timestamp-ts != ts-first {
		t.Fatalf("timestamp went from %d to %d across a forced keyframe", ts, f.Timestamp)
	}
}

func TestNewStreamRejectsBadSpecs(t *testing.T) {
	for _, spec := range []Spec{
		{Kind: Video, Bitrate: 1000, FPS: 0, KeyframeEvery: time.Second},
		{Kind: Video, Bitrate: 1000, FPS: 30},
		{Kind: Audio, Bitrate: 0},
		{Kind: "data", Bitrate: 10},
		{Kind: Audio, Bitrate: 100, MaxPayload: 10},
	} {
		if _, err := NewStream(spec); err == nil {
			t.Errorf("NewStream(%+v) accepted a bad spec", spec)
		}
	}
}

func BenchmarkVideoNext(b *testing.B) {
	s, _ := NewStream(HostVideo(1))
	b.ReportAllocs()
	for b.Loop() {
		s.Next(1)
	}
}
