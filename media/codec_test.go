package media

import "testing"

func TestCodecFromMime(t *testing.T) {
	cases := []struct {
		mime  string
		codec Codec
		rate  uint32
	}{
		{"audio/opus", CodecOpus, 48000},
		{"AUDIO/OPUS", CodecOpus, 48000},
		{"video/VP8", CodecVP8, 90000},
		{"video/vp8", CodecVP8, 90000},
		{"video/VP9", CodecVP9, 90000},
		{"video/H264", CodecH264, 90000},
		{"video/h264", CodecH264, 90000},
		{"video/AV1", CodecUnknown, 0},
		{"", CodecUnknown, 0},
		{"audio/opusx", CodecUnknown, 0},
	}
	for _, c := range cases {
		got := CodecFromMime(c.mime)
		if got != c.codec {
			t.Errorf("CodecFromMime(%q) = %v, want %v", c.mime, got, c.codec)
		}
		if r := got.ClockRate(); r != c.rate {
			t.Errorf("%v.ClockRate() = %d, want %d", got, r, c.rate)
		}
	}
	if CodecOpus.IsVideo() || !CodecVP9.IsVideo() {
		t.Error("IsVideo wrong")
	}
}
