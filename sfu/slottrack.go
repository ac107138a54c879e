package sfu

import (
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// slotTrack is the local track of one slot. Unlike TrackLocalStaticRTP it
// keeps the single binding it gets and writes header and payload as they
// are, so forwarding allocates nothing per packet.
type slotTrack struct {
	id, streamID string
	kind         webrtc.RTPCodecType
	mime         string
	bound        *atomic.Pointer[boundTrack] // its slot's (newSlot)
	// The egress paths a bound writer picks from (egress.go); sock nil in
	// harnesses that bind writers of their own.
	sock *egressSocket
	eg   *viewerEgress
	link *linkWatch // the viewer's (viewer.link)
}

type boundTrack struct {
	w    webrtc.TrackLocalWriter
	ssrc webrtc.SSRC
	pt   uint8
	// RTX, when the viewer negotiated it: retransmissions go on rtxSSRC
	// with payload type rtxPT (0 when not negotiated).
	rtxSSRC uint32
	rtxPT   uint8
	// twccID is the transport-wide sequence number extension's id, 0 when
	// the viewer did not negotiate transport-cc.
	twccID uint8
}

func (s *SFU) newSlotTrack(kind, seatIdx int) *slotTrack {
	t := &slotTrack{
		id:       fmt.Sprintf("seat%d-%s", seatIdx, kindNames[kind]),
		streamID: fmt.Sprintf("seat%d", seatIdx),
		kind:     webrtc.RTPCodecTypeAudio,
		mime:     webrtc.MimeTypeOpus,
	}
	if kind == videoIdx {
		t.kind = webrtc.RTPCodecTypeVideo
		t.mime = "video/" + s.videoCodec.String()
	}
	return t
}

func (t *slotTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, t.mime) {
			bt := &boundTrack{w: ctx.WriteStream(), ssrc: ctx.SSRC(), pt: uint8(c.PayloadType)}
			if t.sock != nil {
				bt.w = &egressWriter{pion: bt.w, e: t.eg, sock: t.sock, link: t.link}
			}
			for _, ext := range ctx.HeaderExtensions() {
				if ext.URI == sdp.TransportCCURI && ext.ID > 0 && ext.ID < 15 {
					bt.twccID = uint8(ext.ID)
				}
			}
			if rtx := ctx.SSRCRetransmission(); rtx != 0 {
				apt := fmt.Sprintf("apt=%d", c.PayloadType)
				for _, r := range ctx.CodecParameters() {
					if strings.EqualFold(r.MimeType, webrtc.MimeTypeRTX) && strings.Contains(r.SDPFmtpLine, apt) {
						bt.rtxSSRC, bt.rtxPT = uint32(rtx), uint8(r.PayloadType)
					}
				}
			}
			t.bound.Store(bt)
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}

func (t *slotTrack) Unbind(webrtc.TrackLocalContext) error {
	t.bound.Store(nil)
	return nil
}

func (t *slotTrack) ID() string                { return t.id }
func (t *slotTrack) RID() string               { return "" }
func (t *slotTrack) StreamID() string          { return t.streamID }
func (t *slotTrack) Kind() webrtc.RTPCodecType { return t.kind }
