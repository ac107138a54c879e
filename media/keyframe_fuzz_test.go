package media

import "testing"

// One fuzz target per keyframe detector, so each codec's parser gets the
// whole fuzzing budget and seeds of its own. Every target checks the
// properties that hold for any input: no panic; a keyframe verdict needs
// the codec's start-of-frame markers; and a verdict of "keyframe" rests on
// the bytes read so far, so appending more bytes never withdraws it.

func fuzzKeyframe(f *testing.F, c Codec, seeds [][]byte, markers func(p []byte) bool) {
	for _, s := range seeds {
		f.Add(s, []byte{0xff, 0x00})
	}
	f.Fuzz(func(t *testing.T, p, suffix []byte) {
		got := IsKeyframe(c, p)
		if !got {
			return
		}
		if !markers(p) {
			t.Fatalf("% x reported as a %v keyframe without its start markers", p, c)
		}
		if !IsKeyframe(c, append(p[:len(p):len(p)], suffix...)) {
			t.Fatalf("% x is a %v keyframe but not with % x appended", p, c, suffix)
		}
	})
}

func FuzzVP8Keyframe(f *testing.F) {
	fuzzKeyframe(f, CodecVP8, [][]byte{
		{0x10, 0x00}, {0x90, 0x80, 0x05, 0x00}, {0x90, 0xf0, 0x81, 0x05, 0x07, 0x20, 0x00}, {0x90}, {0x90, 0x80},
	}, func(p []byte) bool { return p[0]&0x10 != 0 && p[0]&0x07 == 0 })
}

func FuzzVP9Keyframe(f *testing.F) {
	fuzzKeyframe(f, CodecVP9, [][]byte{
		{0x08}, {0x88, 0x81, 0x02}, {0xa8, 0x81, 0x02, 0x00, 0x00}, {0xa8, 0x81, 0x02, 0x02, 0x00}, {0xa8},
	}, func(p []byte) bool { return p[0]&0x08 != 0 && p[0]&0x40 == 0 })
}

func FuzzH264Keyframe(f *testing.F) {
	fuzzKeyframe(f, CodecH264, [][]byte{
		{0x65, 0x88}, {0x67, 0x42}, {0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce},
		{0x78, 0x00, 0x09, 0x65}, {0x7c, 0x85, 0x88}, {0x7c},
	}, func(p []byte) bool {
		switch p[0] & 0x1f {
		case naluIDR, naluSPS, naluSTAPA, naluFUA, naluFUB:
			return true
		}
		return false
	})
}
