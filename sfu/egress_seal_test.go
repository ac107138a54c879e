package sfu

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// The sealer's SRTP is pion/srtp's byte for byte, for both AEAD profiles,
// across a sequence-number wrap, late packets (retransmissions) on both
// sides of it, and several SSRCs; and pion's receiving Context opens it.
func TestSealerMatchesPionContext(t *testing.T) {
	for _, p := range []struct {
		profile srtp.ProtectionProfile
		keyLen  int
	}{{srtp.ProtectionProfileAeadAes128Gcm, 16}, {srtp.ProtectionProfileAeadAes256Gcm, 32}} {
		key, salt := make([]byte, p.keyLen), make([]byte, 12)
		_, _ = rand.Read(key)
		_, _ = rand.Read(salt)
		pion, err := srtp.CreateContext(key, salt, p.profile)
		if err != nil {
			t.Fatal(err)
		}
		open, err := srtp.CreateContext(key, salt, p.profile)
		if err != nil {
			t.Fatal(err)
		}
		ours, err := newRTPSealer(p.profile, key, salt)
		if err != nil || ours == nil {
			t.Fatalf("sealer for profile %v: %v", p.profile, err)
		}
		seqs := []uint16{65500, 65501, 65535, 0, 65534, 1, 2, 40000, 40001, 7000, 40002, 65535, 3}
		for i, seq := range seqs {
			for _, ssrc := range []uint32{1111, 2222} {
				h := rtp.Header{Version: 2, Marker: i%3 == 0, PayloadType: 96, SequenceNumber: seq + uint16(ssrc), Timestamp: uint32(i) * 3000, SSRC: ssrc}
				payload := bytes.Repeat([]byte{byte(i), byte(ssrc)}, 300+i)
				plain, err := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
				if err != nil {
					t.Fatal(err)
				}
				want, err := pion.EncryptRTP(nil, plain, nil)
				if err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, maxSRTPPacket)
				hl, err := h.MarshalTo(buf)
				if err != nil {
					t.Fatal(err)
				}
				got, err := ours.seal(buf, hl, h.SSRC, h.SequenceNumber, payload)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("profile %v, packet %d (seq %d, ssrc %d): sealer and pion/srtp differ", p.profile, i, h.SequenceNumber, ssrc)
				}
				dec, err := open.DecryptRTP(nil, got, nil)
				if err != nil || !bytes.Equal(dec, plain) {
					t.Fatalf("profile %v, packet %d: pion cannot open the sealed packet: %v", p.profile, i, err)
				}
			}
		}
	}
}

// Sealing in place — the payload already after the header in the buffer,
// as probe padding is laid out — gives the same packet.
func TestSealerSealsInPlace(t *testing.T) {
	key, salt := make([]byte, 16), make([]byte, 12)
	_, _ = rand.Read(key)
	a, _ := newRTPSealer(srtp.ProtectionProfileAeadAes128Gcm, key, salt)
	b, _ := newRTPSealer(srtp.ProtectionProfileAeadAes128Gcm, key, salt)
	h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 9, SSRC: 5}
	payload := bytes.Repeat([]byte{7}, 500)
	apart := make([]byte, maxSRTPPacket)
	hl, _ := h.MarshalTo(apart)
	want, _ := a.seal(apart, hl, 5, 9, payload)
	inPlace := make([]byte, maxSRTPPacket)
	_, _ = h.MarshalTo(inPlace)
	copy(inPlace[hl:], payload)
	got, err := b.seal(inPlace, hl, 5, 9, inPlace[hl:hl+len(payload)])
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("in place: %v, equal %v", err, bytes.Equal(got, want))
	}
}

// The AES-CM/HMAC profile is not the sealer's: the caller keeps the
// Context. A full SSRC table refuses new SSRCs and keeps its own.
func TestSealerScope(t *testing.T) {
	if s, err := newRTPSealer(srtp.ProtectionProfileAes128CmHmacSha1_80, make([]byte, 16), make([]byte, 14)); s != nil || err != nil {
		t.Fatalf("sealer %v, %v for AES-CM", s, err)
	}
	s, _ := newRTPSealer(srtp.ProtectionProfileAeadAes128Gcm, make([]byte, 16), make([]byte, 12))
	buf := make([]byte, maxSRTPPacket)
	h := rtp.Header{Version: 2}
	for i := range maxSealSSRCs {
		h.SSRC = uint32(i + 1)
		hl, _ := h.MarshalTo(buf)
		if _, err := s.seal(buf, hl, h.SSRC, 1, nil); err != nil {
			t.Fatalf("ssrc %d: %v", i+1, err)
		}
	}
	if _, err := s.seal(buf, 12, 999, 1, nil); err != errSealerFull {
		t.Fatalf("a new SSRC past the table: %v, want errSealerFull", err)
	}
	if _, err := s.seal(buf, 12, 1, 2, nil); err != nil {
		t.Fatalf("a known SSRC once full: %v", err)
	}
}

// BenchmarkSealer seals 1000-byte packets for 200 viewers in turn, six
// SSRCs each, as writer turns meet them: pion/srtp's Context against the
// sealer. Metric: ns per sealed packet.
func BenchmarkSealer(b *testing.B) {
	const viewers, ssrcs = 200, 6
	payload := make([]byte, 1000)
	key, salt := make([]byte, 16), make([]byte, 12)
	for _, kind := range []string{"pion", "sealer"} {
		b.Run(kind, func(b *testing.B) {
			ctxs := make([]*srtp.Context, viewers)
			seals := make([]*rtpSealer, viewers)
			for i := range viewers {
				ctxs[i], _ = srtp.CreateContext(key, salt, srtp.ProtectionProfileAeadAes128Gcm)
				seals[i], _ = newRTPSealer(srtp.ProtectionProfileAeadAes128Gcm, key, salt)
			}
			buf := make([]byte, maxSRTPPacket)
			var hdr rtp.Header
			h := rtp.Header{Version: 2, PayloadType: 96}
			b.ResetTimer()
			for i := range b.N {
				v := i % viewers
				h.SSRC = uint32(1 + (i/viewers)%ssrcs)
				h.SequenceNumber = uint16(i / (viewers * ssrcs))
				hl, _ := h.MarshalTo(buf)
				if kind == "pion" {
					copy(buf[hl:], payload)
					_, _ = ctxs[v].EncryptRTP(buf[:0], buf[:hl+len(payload)], &hdr)
				} else {
					_, _ = seals[v].seal(buf, hl, h.SSRC, h.SequenceNumber, payload)
				}
			}
		})
	}
}
