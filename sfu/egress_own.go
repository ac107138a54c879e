package sfu

import (
	"net"
	"net/netip"

	"github.com/pion/rtcp"
	"github.com/pion/srtp/v3"
)

// The direct egress path of a viewer on the own transport (viewerconn.go):
// its keys and address come from sfu/rtcconn instead of a Pion
// DTLSTransport, and its sender reports go out the same way as its media.

// ownConnected takes the keys and nominated address of a finished
// handshake.
func (v *viewerEgress) ownConnected(ctx *srtp.Context, addr netip.AddrPort) {
	if v == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.ctx = ctx
	v.addr = net.UDPAddrFromAddrPort(addr)
	v.updateLocked()
}

// moved follows the viewer to the address it nominated since.
func (v *viewerEgress) moved(addr netip.AddrPort) {
	if v == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.addr = net.UDPAddrFromAddrPort(addr)
	v.updateLocked()
}

// writeRTCP encrypts pkts with the viewer's outbound context (the one its
// RTP uses: SRTP and SRTCP share the session keys, RFC 3711) and sends
// them at once.
func (v *viewerEgress) writeRTCP(pkts []rtcp.Packet) error {
	if v == nil || !v.direct.Load() {
		return nil
	}
	b, err := rtcp.Marshal(pkts)
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.ctx == nil || v.addr == nil || v.closed {
		return nil
	}
	enc, err := v.ctx.EncryptRTCP(nil, b, nil)
	if err != nil {
		return err
	}
	_, err = v.sock.conn.WriteToUDP(enc, v.addr)
	return err
}
