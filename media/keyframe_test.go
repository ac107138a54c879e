package media

import "testing"

func TestIsKeyframe(t *testing.T) {
	cases := []struct {
		name  string
		codec Codec
		p     []byte
		want  bool
	}{
		// VP8: descriptor byte, then the VP8 payload header (P bit = bit 0).
		{"vp8 key minimal", CodecVP8, []byte{0x10, 0x00}, true},
		{"vp8 delta minimal", CodecVP8, []byte{0x10, 0x01}, false},
		{"vp8 key not start", CodecVP8, []byte{0x00, 0x00}, false},
		{"vp8 key partition 1", CodecVP8, []byte{0x11, 0x00}, false},
		{"vp8 key 7-bit picture id", CodecVP8, []byte{0x90, 0x80, 0x05, 0x00}, true},
		{"vp8 key 15-bit picture id", CodecVP8, []byte{0x90, 0x80, 0x81, 0x05, 0x00}, true},
		{"vp8 delta 15-bit picture id", CodecVP8, []byte{0x90, 0x80, 0x81, 0x05, 0x01}, false},
		{"vp8 key all extensions", CodecVP8, []byte{0x90, 0xf0, 0x81, 0x05, 0x07, 0x20, 0x00}, true},
		{"vp8 delta all extensions", CodecVP8, []byte{0x90, 0xf0, 0x81, 0x05, 0x07, 0x20, 0x9d}, false},
		{"vp8 truncated after X", CodecVP8, []byte{0x90}, false},
		{"vp8 truncated picture id", CodecVP8, []byte{0x90, 0x80}, false},
		{"vp8 truncated before header", CodecVP8, []byte{0x90, 0xf0, 0x81, 0x05, 0x07, 0x20}, false},
		{"vp8 empty", CodecVP8, nil, false},

		// VP9: I P L F B E V Z.
		{"vp9 key no layers", CodecVP9, []byte{0x08}, true},
		{"vp9 key with pid", CodecVP9, []byte{0x88, 0x81, 0x02}, true},
		{"vp9 inter", CodecVP9, []byte{0x48}, false},
		{"vp9 not start", CodecVP9, []byte{0x04}, false},
		{"vp9 key base layer", CodecVP9, []byte{0xa8, 0x81, 0x02, 0x00, 0x00}, true},
		{"vp9 upper spatial layer", CodecVP9, []byte{0xa8, 0x81, 0x02, 0x02, 0x00}, false},
		{"vp9 truncated layers", CodecVP9, []byte{0xa8, 0x81, 0x02}, false},
		{"vp9 truncated pid", CodecVP9, []byte{0xa8}, false},
		{"vp9 empty", CodecVP9, []byte{}, false},

		// H.264 (RFC 6184).
		{"h264 idr", CodecH264, []byte{0x65, 0x88}, true},
		{"h264 sps", CodecH264, []byte{0x67, 0x42}, true},
		{"h264 pps", CodecH264, []byte{0x68, 0xce}, false},
		{"h264 non-idr", CodecH264, []byte{0x41, 0x9a}, false},
		{"h264 stap-a sps pps", CodecH264, []byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}, true},
		{"h264 stap-a idr second", CodecH264, []byte{0x78, 0x00, 0x02, 0x68, 0xce, 0x00, 0x01, 0x65}, true},
		{"h264 stap-a pps only", CodecH264, []byte{0x78, 0x00, 0x02, 0x68, 0xce}, false},
		{"h264 stap-a size overflow", CodecH264, []byte{0x78, 0x00, 0x09, 0x65}, false},
		{"h264 stap-a zero size", CodecH264, []byte{0x78, 0x00, 0x00, 0x65}, false},
		{"h264 fu-a idr start", CodecH264, []byte{0x7c, 0x85, 0x88}, true},
		{"h264 fu-a idr middle", CodecH264, []byte{0x7c, 0x05, 0x88}, false},
		{"h264 fu-a non-idr start", CodecH264, []byte{0x7c, 0x81, 0x9a}, false},
		{"h264 fu-a truncated", CodecH264, []byte{0x7c}, false},
		{"h264 empty", CodecH264, nil, false},

		{"opus never", CodecOpus, []byte{0x10, 0x00}, false},
		{"unknown never", CodecUnknown, []byte{0x65}, false},
	}
	for _, c := range cases {
		if got := IsKeyframe(c.codec, c.p); got != c.want {
			t.Errorf("%s: IsKeyframe(%v, % x) = %v, want %v", c.name, c.codec, c.p, got, c.want)
		}
	}
}

func FuzzIsKeyframe(f *testing.F) {
	for _, s := range [][]byte{
		{0x90, 0xf0, 0x81, 0x05, 0x07, 0x20, 0x00},
		{0xa8, 0x81, 0x02, 0x00, 0x00},
		{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce},
		{0x7c, 0x85, 0x88},
	} {
		for c := CodecUnknown; c <= CodecH264; c++ {
			f.Add(uint8(c), s)
		}
	}
	f.Fuzz(func(t *testing.T, c uint8, p []byte) {
		codec := Codec(c % 5)
		got := IsKeyframe(codec, p)
		// Pure function of the payload: same answer twice, and audio never.
		if IsKeyframe(codec, p) != got {
			t.Fatal("not deterministic")
		}
		if codec == CodecOpus && got {
			t.Fatal("opus keyframe")
		}
		// Only the first bytes decide; a key VP8 payload must have a clear P bit
		// at some offset, so an all-ones payload can never be a VP8 keyframe.
		if codec == CodecVP8 && got {
			allOnes := true
			for _, b := range p {
				if b != 0xff {
					allOnes = false
				}
			}
			if allOnes {
				t.Fatal("all-ones VP8 payload reported as keyframe")
			}
		}
	})
}

var sinkBool bool

func BenchmarkIsKeyframe(b *testing.B) {
	payloads := map[Codec][]byte{
		CodecVP8:  append([]byte{0x90, 0xf0, 0x81, 0x05, 0x07, 0x20, 0x00}, make([]byte, 1100)...),
		CodecVP9:  append([]byte{0xa8, 0x81, 0x02, 0x00, 0x00}, make([]byte, 1100)...),
		CodecH264: append([]byte{0x78, 0x00, 0x02, 0x68, 0xce, 0x00, 0x01, 0x65}, make([]byte, 1100)...),
	}
	for _, c := range []Codec{CodecVP8, CodecVP9, CodecH264} {
		p := payloads[c]
		b.Run(c.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkBool = IsKeyframe(c, p)
			}
		})
	}
}
