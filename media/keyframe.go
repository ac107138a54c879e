package media

// IsKeyframe reports whether an RTP payload of codec c is a packet a decoder
// can start from: the first packet of a keyframe (VP8, VP9), or a packet
// carrying an IDR slice or a sequence parameter set (H.264; an encoder sends
// the SPS right before the IDR it belongs to). Later fragments of a keyframe
// report false, since a decoder cannot start in the middle of a frame.
//
// It reads only the payload descriptor, checks every bound, never panics and
// allocates nothing. Audio and unknown codecs always report false.
func IsKeyframe(c Codec, payload []byte) bool {
	switch c {
	case CodecVP8:
		return vp8Keyframe(payload)
	case CodecVP9:
		return vp9Keyframe(payload)
	case CodecH264:
		return h264Keyframe(payload)
	}
	return false
}

// vp8Keyframe parses the RFC 7741 §4.2 payload descriptor; a keyframe starts
// in the packet with S=1 and partition index 0, and its VP8 payload header
// (§4.3) has the inverse keyframe bit P clear.
func vp8Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	b := p[0]
	const (
		extended  = 0x80
		start     = 0x10
		partition = 0x07
	)
	if b&start == 0 || b&partition != 0 {
		return false
	}
	i := 1
	if b&extended != 0 {
		if len(p) < 2 {
			return false
		}
		x := p[1]
		i = 2
		if x&0x80 != 0 { // I: PictureID, 7 or 15 bits (M flag)
			if len(p) <= i {
				return false
			}
			if p[i]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K: TID/Y/KEYIDX share one byte
			i++
		}
	}
	if len(p) <= i {
		return false
	}
	return p[i]&0x01 == 0
}

// vp9Keyframe parses the RFC 9628 §4.2 payload descriptor: a keyframe starts
// in the packet with B=1 (start of a frame) and P=0 (not inter-picture
// predicted) on the base spatial layer.
func vp9Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	b := p[0]
	const (
		pictureID  = 0x80
		interPred  = 0x40
		layers     = 0x20
		frameStart = 0x08
	)
	if b&interPred != 0 || b&frameStart == 0 {
		return false
	}
	if b&layers == 0 {
		return true
	}
	i := 1
	if b&pictureID != 0 {
		if len(p) <= i {
			return false
		}
		if p[i]&0x80 != 0 {
			i += 2
		} else {
			i++
		}
	}
	if len(p) <= i {
		return false
	}
	// Layer indices: TID(3) U(1) SID(3) D(1); what follows is not needed.
	sid := (p[i] >> 1) & 0x07
	return sid == 0
}

// H.264 NAL unit types (RFC 6184 §5.4, ITU-T H.264 table 7-1).
const (
	naluIDR   = 5
	naluSPS   = 7
	naluSTAPA = 24
	naluFUA   = 28
	naluFUB   = 29
)

func h264Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	switch t := p[0] & 0x1f; t {
	case naluIDR, naluSPS:
		return true
	case naluSTAPA:
		// 1 byte STAP-A header, then (16-bit size, NAL unit) repeated.
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			i += 2
			if size == 0 || i+size > len(p) {
				return false
			}
			if nt := p[i] & 0x1f; nt == naluIDR || nt == naluSPS {
				return true
			}
			i += size
		}
		return false
	case naluFUA, naluFUB:
		// FU indicator, then FU header: S E R Type.
		if len(p) < 2 {
			return false
		}
		fu := p[1]
		nt := fu & 0x1f
		return fu&0x80 != 0 && (nt == naluIDR || nt == naluSPS)
	}
	return false
}
