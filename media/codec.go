package media

import "strings"

// Codec identifies the payload format of an RTP stream, which decides how its
// packets are inspected (keyframes) and which clock its timestamps follow.
type Codec uint8

// The codecs seatsfu forwards.
const (
	CodecUnknown Codec = iota
	CodecOpus
	CodecVP8
	CodecVP9
	CodecH264
)

// CodecFromMime maps a WebRTC MIME type ("audio/opus", "video/VP8", ...) to a
// Codec, ignoring case. Anything else is CodecUnknown.
func CodecFromMime(mime string) Codec {
	switch {
	case strings.EqualFold(mime, "audio/opus"):
		return CodecOpus
	case strings.EqualFold(mime, "video/vp8"):
		return CodecVP8
	case strings.EqualFold(mime, "video/vp9"):
		return CodecVP9
	case strings.EqualFold(mime, "video/h264"):
		return CodecH264
	}
	return CodecUnknown
}

// ClockRate is the RTP timestamp rate of the codec: 48 kHz for Opus (RFC 7587
// fixes it whatever the real sampling rate), 90 kHz for video. Unknown codecs
// report 0.
func (c Codec) ClockRate() uint32 {
	switch c {
	case CodecOpus:
		return 48000
	case CodecVP8, CodecVP9, CodecH264:
		return 90000
	}
	return 0
}

// IsVideo reports whether the codec carries video.
func (c Codec) IsVideo() bool {
	return c == CodecVP8 || c == CodecVP9 || c == CodecH264
}

// String is the codec's MIME subtype, for logs.
func (c Codec) String() string {
	switch c {
	case CodecOpus:
		return "opus"
	case CodecVP8:
		return "VP8"
	case CodecVP9:
		return "VP9"
	case CodecH264:
		return "H264"
	}
	return "unknown"
}
