package rtcconn

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// The SDP answer of a viewer on the own transport, shaped like the one
// Pion answers the same offer with (sfu's tests compare the two): one
// BUNDLE, rtcp-mux, setup:passive, the node's codec per kind at the
// offer's payload type, RTX when the offer has it for that codec,
// transport-cc at the offer's extension id, and for each carried m-line
// its sender's SSRCs (an FID group with RTX) and msid. Nothing is ever
// renegotiated (PROTOCOL.md §5).

// TransportCCURI is the transport-wide sequence number extension.
const TransportCCURI = sdp.TransportCCURI

// Codec is one codec the node sends.
type Codec struct {
	Name      string // rtpmap encoding name: "opus", "VP8", "VP9", "H264"
	ClockRate uint32
	Channels  uint16
	Fmtp      string
	Feedback  []string // rtcp-fb values: "nack", "nack pli", "ccm fir", "transport-cc"
}

// Offer is what the answer and the transport need from a viewer's offer.
type Offer struct {
	sd                           *sdp.SessionDescription
	Ufrag, Pwd                   string
	FingerprintAlgo, Fingerprint string
	Media                        []OfferedMedia
}

// OfferedMedia is one m-line of the offer.
type OfferedMedia struct {
	Mid, Kind string // kind: "audio", "video" or another (rejected)
	Direction string
	md        *sdp.MediaDescription
}

// ParseOffer reads a viewer's offer; it insists on what the own transport
// needs (one set of ICE credentials and a fingerprint, rtcp-mux, mids).
func ParseOffer(offer string) (*Offer, error) {
	sd := &sdp.SessionDescription{}
	if err := sd.UnmarshalString(offer); err != nil {
		return nil, fmt.Errorf("rtcconn: offer: %w", err)
	}
	o := &Offer{sd: sd}
	attr := func(md *sdp.MediaDescription, key string) string {
		if v, ok := md.Attribute(key); ok {
			return v
		}
		v, _ := sd.Attribute(key)
		return v
	}
	for _, md := range sd.MediaDescriptions {
		m := OfferedMedia{Kind: md.MediaName.Media, md: md}
		m.Mid, _ = md.Attribute("mid")
		for _, d := range []string{"sendrecv", "sendonly", "recvonly", "inactive"} {
			if _, ok := md.Attribute(d); ok {
				m.Direction = d
			}
		}
		if m.Direction == "" {
			m.Direction = "sendrecv"
		}
		if m.Mid == "" {
			return nil, errors.New("rtcconn: offer m-line without a mid")
		}
		u, p, f := attr(md, "ice-ufrag"), attr(md, "ice-pwd"), attr(md, "fingerprint")
		if o.Ufrag == "" {
			o.Ufrag, o.Pwd = u, p
		} else if u != o.Ufrag || p != o.Pwd {
			return nil, errors.New("rtcconn: offer m-lines with different ICE credentials (no BUNDLE?)")
		}
		if algo, val, ok := strings.Cut(f, " "); ok && o.Fingerprint == "" {
			o.FingerprintAlgo, o.Fingerprint = algo, val
		}
		if _, ok := md.Attribute("rtcp-mux"); !ok && (m.Kind == "audio" || m.Kind == "video") {
			return nil, errors.New("rtcconn: offer without rtcp-mux")
		}
		o.Media = append(o.Media, m)
	}
	if o.Ufrag == "" || o.Pwd == "" || o.Fingerprint == "" {
		return nil, errors.New("rtcconn: offer lacks ICE credentials or a DTLS fingerprint")
	}
	return o, nil
}

// Sender is what one answered m-line sends: a track with its stream, or
// nil for an m-line answered inactive.
type Sender struct {
	StreamID, TrackID string
}

// Line is one answered m-line as negotiated: what the SFU's writer needs
// to send on it.
type Line struct {
	Mid            string
	Kind           string
	PT, RTXPT      uint8  // RTXPT 0: no RTX
	SSRC, RTXSSRC  uint32 // RTXSSRC 0: no RTX
	TransportCCExt uint8  // 0: transport-cc not negotiated
	Sending        bool
}

// AnswerConfig is the node's side of every answer.
type AnswerConfig struct {
	Audio, Video Codec
	RTX          bool // offer RTX (apt to the video codec) when the offer has it
	Fingerprint  string
	Ufrag, Pwd   string
	// Candidates are a=candidate values (without the "candidate:"
	// prefix), UDP host candidates on the media port.
	Candidates []string
}

// Answer builds the answer to o: senders[i] is what the i-th audio/video
// m-line sends (nil: inactive). Other m-lines (data channels) are
// rejected with port 0.
func Answer(o *Offer, cfg AnswerConfig, senders []*Sender) (string, []Line, error) {
	sd, err := sdp.NewJSEPSessionDescription(false)
	if err != nil {
		return "", nil, err
	}
	algo, fp, _ := strings.Cut(cfg.Fingerprint, " ")
	sd = sd.WithValueAttribute("msid-semantic", "WMS *").WithFingerprint(algo, fp).
		WithPropertyAttribute(sdp.AttrKeyExtMapAllowMixed)
	var bundle []string
	var lines []Line
	k := 0
	for _, m := range o.Media {
		if m.Kind != "audio" && m.Kind != "video" {
			md := &sdp.MediaDescription{MediaName: m.md.MediaName}
			md.MediaName.Port = sdp.RangedPort{Value: 0}
			md.WithValueAttribute("mid", m.Mid)
			sd = sd.WithMedia(md)
			continue
		}
		var s *Sender
		if k < len(senders) {
			s = senders[k]
		}
		k++
		md, line, err := answerMedia(m, cfg, s)
		if err != nil {
			return "", nil, err
		}
		bundle = append(bundle, m.Mid)
		lines = append(lines, line)
		sd = sd.WithMedia(md)
	}
	sd = sd.WithValueAttribute(sdp.AttrKeyGroup, "BUNDLE "+strings.Join(bundle, " "))
	// The group goes before the m-lines' attributes in Pion's answer;
	// JSEP only asks it to be a session attribute.
	b, err := sd.Marshal()
	if err != nil {
		return "", nil, err
	}
	return string(b), lines, nil
}

func answerMedia(m OfferedMedia, cfg AnswerConfig, s *Sender) (*sdp.MediaDescription, Line, error) {
	codec := cfg.Audio
	if m.Kind == "video" {
		codec = cfg.Video
	}
	line := Line{Mid: m.Mid, Kind: m.Kind}
	pt, ok := offeredPT(m.md, codec)
	if !ok {
		return nil, line, fmt.Errorf("rtcconn: m-line %q does not offer %s", m.Mid, codec.Name)
	}
	line.PT = pt
	pts := []string{strconv.Itoa(int(pt))}
	if m.Kind == "video" && cfg.RTX {
		if rpt, ok := offeredRTX(m.md, pt); ok {
			line.RTXPT = rpt
			pts = append(pts, strconv.Itoa(int(rpt)))
		}
	}
	md := &sdp.MediaDescription{MediaName: sdp.MediaName{
		Media: m.Kind, Port: sdp.RangedPort{Value: 9}, Protos: []string{"UDP", "TLS", "RTP", "SAVPF"}, Formats: pts,
	}, ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: "IP4", Address: &sdp.Address{Address: "0.0.0.0"}}}
	md.WithValueAttribute("setup", "passive").WithValueAttribute("mid", m.Mid).
		WithICECredentials(cfg.Ufrag, cfg.Pwd).WithPropertyAttribute("rtcp-mux").WithPropertyAttribute("rtcp-rsize")
	rtpmap := fmt.Sprintf("%d %s/%d", pt, codec.Name, codec.ClockRate)
	if codec.Channels > 0 {
		rtpmap += fmt.Sprintf("/%d", codec.Channels)
	}
	md.WithValueAttribute("rtpmap", rtpmap)
	if codec.Fmtp != "" {
		md.WithValueAttribute("fmtp", fmt.Sprintf("%d %s", pt, codec.Fmtp))
	}
	twccFB := false
	for _, fb := range codec.Feedback {
		md.WithValueAttribute("rtcp-fb", fmt.Sprintf("%d %s", pt, fb))
		twccFB = twccFB || fb == "transport-cc"
	}
	if line.RTXPT != 0 {
		md.WithValueAttribute("rtpmap", fmt.Sprintf("%d rtx/%d", line.RTXPT, codec.ClockRate))
		md.WithValueAttribute("fmtp", fmt.Sprintf("%d apt=%d", line.RTXPT, pt))
		if twccFB {
			md.WithValueAttribute("rtcp-fb", fmt.Sprintf("%d transport-cc", line.RTXPT))
		}
	}
	if id, ok := offeredExt(m.md, TransportCCURI); ok && twccFB {
		line.TransportCCExt = uint8(id)
		md.WithValueAttribute("extmap", fmt.Sprintf("%d %s", id, TransportCCURI))
	}
	if s != nil && (m.Direction == "recvonly" || m.Direction == "sendrecv") {
		line.Sending = true
		line.SSRC = randSSRC()
		if line.RTXPT != 0 {
			line.RTXSSRC = randSSRC()
			md.WithValueAttribute("ssrc-group", fmt.Sprintf("FID %d %d", line.SSRC, line.RTXSSRC))
		}
		for _, ssrc := range []uint32{line.SSRC, line.RTXSSRC} {
			if ssrc != 0 {
				md.WithMediaSource(ssrc, s.StreamID, s.StreamID, s.TrackID)
			}
		}
		md.WithValueAttribute("msid", s.StreamID+" "+s.TrackID)
		md.WithPropertyAttribute("sendonly")
	} else {
		md.WithPropertyAttribute("inactive")
	}
	for _, c := range cfg.Candidates {
		md.WithCandidate(c)
	}
	if len(cfg.Candidates) > 0 {
		md.WithPropertyAttribute("end-of-candidates")
	}
	return md, line, nil
}

// offeredPT is the offer's payload type for codec: the first whose name
// and clock rate match and whose format parameters do not contradict ours.
func offeredPT(md *sdp.MediaDescription, c Codec) (uint8, bool) {
	maps, fmtps := codecAttrs(md)
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		name, rate, _ := strings.Cut(maps[pt], "/")
		rate, _, _ = strings.Cut(rate, "/")
		if strings.EqualFold(name, c.Name) && rate == strconv.Itoa(int(c.ClockRate)) && fmtpCompatible(fmtps[pt], c.Fmtp) {
			return uint8(pt), true
		}
	}
	return 0, false
}

func offeredRTX(md *sdp.MediaDescription, apt uint8) (uint8, bool) {
	maps, fmtps := codecAttrs(md)
	for pt, m := range maps {
		if strings.HasPrefix(strings.ToLower(m), "rtx/") && fmtps[pt] == fmt.Sprintf("apt=%d", apt) {
			return uint8(pt), true
		}
	}
	return 0, false
}

func offeredExt(md *sdp.MediaDescription, uri string) (int, bool) {
	for _, a := range md.Attributes {
		if a.Key != "extmap" {
			continue
		}
		id, rest, _ := strings.Cut(a.Value, " ")
		id, _, _ = strings.Cut(id, "/")
		u, _, _ := strings.Cut(rest, " ")
		if n, err := strconv.Atoi(id); err == nil && u == uri && n > 0 && n < 15 {
			return n, true
		}
	}
	return 0, false
}

func codecAttrs(md *sdp.MediaDescription) (maps, fmtps map[int]string) {
	maps, fmtps = map[int]string{}, map[int]string{}
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" && a.Key != "fmtp" {
			continue
		}
		ptS, v, _ := strings.Cut(a.Value, " ")
		pt, err := strconv.Atoi(ptS)
		if err != nil {
			continue
		}
		if a.Key == "rtpmap" {
			maps[pt] = v
		} else {
			fmtps[pt] = v
		}
	}
	return maps, fmtps
}

// fmtpCompatible: the parameters that select a codec variant agree
// (H.264's packetization mode and profile, VP9's profile).
func fmtpCompatible(offered, ours string) bool {
	o, w := fmtpMap(offered), fmtpMap(ours)
	for _, k := range []string{"packetization-mode", "profile-id"} {
		if w[k] != "" && o[k] != w[k] {
			return false
		}
	}
	if p := w["profile-level-id"]; len(p) >= 4 {
		op := o["profile-level-id"]
		if len(op) < 4 || !strings.EqualFold(op[:4], p[:4]) {
			return false
		}
	}
	return true
}

func fmtpMap(s string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		out[strings.ToLower(k)] = v
	}
	return out
}

func randSSRC() uint32 {
	var b [4]byte
	for {
		_, _ = rand.Read(b[:])
		if v := binary.BigEndian.Uint32(b[:]); v != 0 {
			return v
		}
	}
}
