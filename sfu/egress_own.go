package sfu

import (
	"errors"
	"net"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// The direct egress path of a viewer on the own transport (viewerconn.go):
// its keys and address come from sfu/rtcconn instead of a Pion
// DTLSTransport, and its sender reports go out the same way as its media.

// ownConnected takes the keys and nominated address of a finished
// handshake; addr nil: the viewer is on ICE-TCP, not direct. sealer (nil
// for the AES-CM profile) seals its RTP instead of ctx, on both paths.
func (v *viewerEgress) ownConnected(ctx *srtp.Context, sealer *rtpSealer, addr *net.UDPAddr) {
	if v == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.ctx, v.sealer = ctx, sealer
	v.addr = addr
	v.updateLocked()
}

// moved follows the viewer to the path it nominated since (nil: ICE-TCP).
func (v *viewerEgress) moved(addr *net.UDPAddr) {
	if v == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.addr = addr
	v.updateLocked()
}

// sealBufs are sealFramed's scratch: the ICE-TCP path is rare enough not to
// keep a buffer per viewer.
var sealBufs = sync.Pool{New: func() any { b := make([]byte, 2*maxSRTPPacket); return &b }}

// sealFramed encrypts one packet with the viewer's context and hands it to send
// (the own transport's ICE-TCP path); nothing before the handshake.
func (v *viewerEgress) sealFramed(h *rtp.Header, payload []byte, send func([]byte)) (int, error) {
	if v == nil {
		return 0, nil
	}
	bp := sealBufs.Get().(*[]byte)
	defer sealBufs.Put(bp)
	buf := *bp
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.ctx == nil || v.closed {
		return 0, nil
	}
	hl := h.MarshalSize()
	size := hl + len(payload)
	pad := 0
	if h.Padding {
		pad = int(h.PaddingSize)
	}
	if size+pad > maxSRTPPacket-32 {
		return 0, nil
	}
	if _, err := h.MarshalTo(buf[:hl]); err != nil {
		return 0, err
	}
	copy(buf[hl:], payload)
	if pad > 0 {
		clear(buf[size : size+pad-1])
		buf[size+pad-1] = byte(pad)
		size += pad
	}
	// The sealer when there is one, as on the UDP path, so that one SSRC
	// keeps one encryptor (and one rollover count) across a move between
	// ICE-TCP and UDP.
	var enc []byte
	var err error
	if v.sealer != nil {
		out := buf[maxSRTPPacket:]
		copy(out, buf[:hl]) // the header, the sealed packet's clear part and associated data
		enc, err = v.sealer.seal(out, hl, h.SSRC, h.SequenceNumber, buf[hl:size])
		if errors.Is(err, errSealerFull) {
			enc, err = nil, nil
		}
	}
	if enc == nil && err == nil {
		enc, err = v.ctx.EncryptRTP(buf[maxSRTPPacket:maxSRTPPacket], buf[:size], &v.hdr)
	}
	if err != nil {
		return 0, err
	}
	send(enc)
	return size, nil
}
