package sfu

import (
	"fmt"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/seatsfu/seatsfu/media"
)

// Limits on what an offer may hold; beyond them it is refused before Pion
// sees it.
const (
	maxOfferBytes = 64 << 10
	// A subscriber's pairs for the largest room and the most co-host slots
	// (16 seats, 8 other rooms; PROTOCOL.md §10).
	maxOfferMLines = 2 * (16 + 8)
)

// offerLine is what the SFU needs to know about one m-line of an offer.
type offerLine struct {
	kind      int // audioIdx or videoIdx; -1 for anything else
	mid       string
	direction string
}

// checkOffer parses an offer and checks the rules every offer shares: it
// parses, every media m-line is audio or video and carries a codec the room
// forwards (Opus; the room's video codec), and BUNDLE groups them.
func checkOffer(offer string, video media.Codec) ([]offerLine, error) {
	if len(offer) > maxOfferBytes {
		return nil, fmt.Errorf("%w: offer larger than %d bytes", ErrBadSDP, maxOfferBytes)
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(offer); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	if len(sd.MediaDescriptions) == 0 {
		return nil, fmt.Errorf("%w: no m-line", ErrBadSDP)
	}
	if len(sd.MediaDescriptions) > maxOfferMLines {
		return nil, fmt.Errorf("%w: %d m-lines, at most %d", ErrBadSDP, len(sd.MediaDescriptions), maxOfferMLines)
	}
	bundled := map[string]bool{}
	if g, ok := sd.Attribute("group"); ok {
		if f := strings.Fields(g); len(f) > 0 && f[0] == "BUNDLE" {
			for _, mid := range f[1:] {
				bundled[mid] = true
			}
		}
	}
	lines := make([]offerLine, 0, len(sd.MediaDescriptions))
	for i, md := range sd.MediaDescriptions {
		l := offerLine{kind: -1, direction: "sendrecv"}
		l.mid, _ = md.Attribute("mid")
		for _, d := range []string{"sendrecv", "sendonly", "recvonly", "inactive"} {
			if _, ok := md.Attribute(d); ok {
				l.direction = d
			}
		}
		switch md.MediaName.Media {
		case "audio":
			l.kind = audioIdx
		case "video":
			l.kind = videoIdx
		default:
			lines = append(lines, l)
			continue
		}
		if l.mid == "" || !bundled[l.mid] {
			return nil, fmt.Errorf("%w: m-line %d is not in the BUNDLE group", ErrBadSDP, i)
		}
		if _, ok := md.Attribute("rtcp-mux"); !ok {
			return nil, fmt.Errorf("%w: m-line %d lacks rtcp-mux", ErrBadSDP, i)
		}
		want := media.CodecOpus
		if l.kind == videoIdx {
			want = video
		}
		if !offersCodec(md, want) {
			return nil, fmt.Errorf("%w: m-line %d (%s) does not offer %s", ErrUnsupportedCodec, i, md.MediaName.Media, want)
		}
		lines = append(lines, l)
	}
	return lines, nil
}

// offersCodec reports whether an m-line offers codec c (for H.264: in
// packetization mode 1, the only one the room forwards).
func offersCodec(md *sdp.MediaDescription, c media.Codec) bool {
	names := map[string]bool{} // payload type → matches by name
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		pt, rest, ok := strings.Cut(a.Value, " ")
		name, _, _ := strings.Cut(rest, "/")
		if ok && media.CodecFromMime(kindPrefix(c)+name) == c {
			names[pt] = true
		}
	}
	if c != media.CodecH264 {
		return len(names) > 0
	}
	for _, a := range md.Attributes {
		if a.Key != "fmtp" {
			continue
		}
		pt, params, _ := strings.Cut(a.Value, " ")
		if names[pt] && strings.Contains(params, "packetization-mode=1") {
			return true
		}
	}
	return false
}

func kindPrefix(c media.Codec) string {
	if c.IsVideo() {
		return "video/"
	}
	return "audio/"
}
