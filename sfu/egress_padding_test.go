package sfu

import (
	"net"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/prometheus/client_golang/prometheus"
)

// Probe padding (probe.go) is a header with Padding and PaddingSize and no
// payload. The direct path must put the padding octets on the wire the way
// Pion's marshalling does, or the viewer reads the packet as malformed and
// the probe is never counted in its transport-wide feedback.
func TestDirectEgressWritesProbePadding(t *testing.T) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	sock, err := newEgressSocket(conn, true, false, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	// pion/srtp's Context seals the AES-CM profile, the SFU's own sealer
	// (egress_seal.go) the AEAD one: both must lay the padding out alike.
	for _, profile := range []srtp.ProtectionProfile{srtp.ProtectionProfileAes128CmHmacSha1_80, srtp.ProtectionProfileAeadAes128Gcm} {
		sendsProbePadding(t, sock, peer, profile)
	}
}

func sendsProbePadding(t *testing.T, sock *egressSocket, peer *net.UDPConn, profile srtp.ProtectionProfile) {
	t.Helper()
	saltLen, _ := profile.SaltLen()
	key, salt := make([]byte, 16), make([]byte, saltLen)
	for i := range key {
		key[i] = byte(i + 1)
	}
	enc, err := srtp.CreateContext(key, salt, profile)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := srtp.CreateContext(key, salt, profile)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := newRTPSealer(profile, key, salt)
	if err != nil {
		t.Fatal(err)
	}
	if (sealer != nil) != (profile == srtp.ProtectionProfileAeadAes128Gcm) {
		t.Fatalf("profile %v: sealer %v", profile, sealer)
	}
	v := sock.newViewer()
	v.mu.Lock()
	v.ctx, v.sealer, v.addr = enc, sealer, peer.LocalAddr().(*net.UDPAddr)
	v.updateLocked()
	v.mu.Unlock()

	h := rtp.Header{Version: 2, PayloadType: 97, SequenceNumber: 7, Timestamp: 90, SSRC: 0xbeef,
		Padding: true, PaddingSize: 255}
	n, ok, err := v.writeRTP(&h, nil)
	if !ok || err != nil {
		t.Fatalf("writeRTP: ok %v, err %v", ok, err)
	}
	if want := h.MarshalSize() + 255; n != want {
		t.Errorf("wrote %d bytes, want %d (header + padding)", n, want)
	}
	buf := make([]byte, 2048)
	if err := peer.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	got, _, err := peer.ReadFromUDP(buf)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := dec.DecryptRTP(nil, buf[:got], nil)
	if err != nil {
		t.Fatalf("profile %v: decrypt: %v", profile, err)
	}
	var p rtp.Packet
	if err := p.Unmarshal(plain); err != nil {
		t.Fatalf("the viewer cannot parse the probe: %v", err)
	}
	if !p.Padding || p.PaddingSize != 255 || len(p.Payload) != 0 || p.SSRC != 0xbeef || p.SequenceNumber != 7 {
		t.Errorf("got padding %v size %d payload %d ssrc %x seq %d; want a 255-octet padding-only packet",
			p.Padding, p.PaddingSize, len(p.Payload), p.SSRC, p.SequenceNumber)
	}
}
