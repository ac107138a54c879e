package sfu

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"

	"github.com/pion/srtp/v3"
)

// The direct path's own SRTP sealing for the AEAD profiles (issue 16).
//
// Window profiles of the bench (bench/README.md) put pion/srtp's work
// around AES-GCM — the per-packet map lookup of the SSRC's state in
// srtp.Context, rollover bookkeeping, re-deriving the IV — at 6 % of the
// server's samples, against 3 % in the raw baseline, because every writer
// turn meets a viewer's context cold. The sealer keeps what a packet
// needs in one small object: the session key's AES-GCM, the session salt
// and a short array of the viewer's SSRCs with their packet indexes. The
// payload is sealed straight from the source packet into the batch (no
// copy of it beside the header's).
//
// The format is RFC 7714's (AEAD_AES_128_GCM and AEAD_AES_256_GCM, the
// profiles offered first; PROTOCOL.md §5): the session key and salt from
// the master key and salt by RFC 3711 §4.3's AES-CM key derivation
// (labels 0x00 and 0x02, key derivation rate 0), the IV the salt XOR
// (0x0000 ‖ SSRC ‖ ROC ‖ SEQ) (RFC 7714 §8.1), the RTP header the
// associated data, the 16-byte tag after the ciphertext. The rollover
// counter is estimated from the sequence numbers as pion/srtp does, so
// that its Context and this sealer agree packet for packet
// (TestSealerMatchesPionContext). Any other profile — the AES-CM/HMAC
// one — keeps pion/srtp's Context.

// maxSealSSRCs bounds the SSRCs one viewer's sealer tracks: a slot each
// (two per seat, ten seats at most), their RTX streams, the probe's. An
// SSRC past it is sealed by pion/srtp's Context, for good (one SSRC never
// changes encryptor).
const maxSealSSRCs = 48

// RFC 3711 §4.3.2's key derivation labels: the SRTP encryption key and
// salt.
const (
	labelSRTPKey  = 0x00
	labelSRTPSalt = 0x02
)

// rtpSealer seals one viewer's outgoing RTP. It is used by the writer
// serving the viewer only (writers.go), like the Context it stands in for.
//
// What a packet reads of it comes first: the AEAD, the salt, the nonce's
// scratch and the SSRC table, each SSRC beside its index, so a viewer's
// few SSRCs share a cache line or two (issue 16: the sealer's first loads
// were cache misses for every packet and viewer).
type rtpSealer struct {
	aead  cipher.AEAD
	salt  [12]byte
	iv    [12]byte
	n     int
	ssrcs [maxSealSSRCs]sealIndex
}

// sealIndex is one SSRC's highest packet index sealed (ROC ‖ SEQ).
type sealIndex struct {
	ssrc    uint32
	started bool
	index   uint64
}

// newRTPSealer makes the sealer for profile from the master key and salt
// this side sends with; nil for a profile it does not seal (the caller
// keeps pion/srtp's Context).
func newRTPSealer(profile srtp.ProtectionProfile, key, salt []byte) (*rtpSealer, error) {
	switch profile {
	case srtp.ProtectionProfileAeadAes128Gcm, srtp.ProtectionProfileAeadAes256Gcm:
	default:
		return nil, nil
	}
	if (len(key) != 16 && len(key) != 32) || len(salt) != 12 {
		return nil, errors.New("sfu: AEAD SRTP master key or salt of the wrong length")
	}
	sessionKey, err := deriveSRTP(labelSRTPKey, key, salt, len(key))
	if err != nil {
		return nil, err
	}
	sessionSalt, err := deriveSRTP(labelSRTPSalt, key, salt, len(salt))
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(sessionKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	s := &rtpSealer{aead: aead}
	copy(s.salt[:], sessionSalt)
	return s, nil
}

// deriveSRTP is RFC 3711 §4.3.1's key derivation with AES-CM as the PRF
// (§4.3.3) and a key derivation rate of 0: the master salt XOR the label
// at octet 7, as the IV of an AES counter-mode keystream under the master
// key; its first n octets.
func deriveSRTP(label byte, key, salt []byte, n int) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	var in [16]byte
	copy(in[:], salt)
	in[7] ^= label
	out := make([]byte, (n+15)/16*16)
	for i := 0; i*16 < n; i++ {
		binary.BigEndian.PutUint16(in[14:], uint16(i))
		block.Encrypt(out[i*16:], in[:])
	}
	return out[:n], nil
}

// errSealerFull: the SSRC is not the sealer's (maxSealSSRCs); the caller
// seals it with pion/srtp's Context.
var errSealerFull = errors.New("sfu: sealer SSRC table full")

// seal encrypts the packet whose header (hl octets, SSRC ssrc, sequence
// number seq) starts buf, its payload given apart, into buf after the
// header, and returns the SRTP packet (a prefix of buf). buf must have
// room for the payload and the tag; payload must not overlap buf past
// the header, unless it starts right there (sealed in place).
func (s *rtpSealer) seal(buf []byte, hl int, ssrc uint32, seq uint16, payload []byte) ([]byte, error) {
	x := s.find(ssrc)
	if x == nil {
		return nil, errSealerFull
	}
	roc := x.next(seq)
	s.iv = [12]byte{}
	binary.BigEndian.PutUint32(s.iv[2:], ssrc)
	binary.BigEndian.PutUint32(s.iv[6:], roc)
	binary.BigEndian.PutUint16(s.iv[10:], seq)
	for i := range s.iv {
		s.iv[i] ^= s.salt[i]
	}
	out := s.aead.Seal(buf[hl:hl], s.iv[:], payload, buf[:hl])
	return buf[:hl+len(out)], nil
}

// find is ssrc's index, added on first sight; nil when the table is full.
func (s *rtpSealer) find(ssrc uint32) *sealIndex {
	for i := range s.n {
		if s.ssrcs[i].ssrc == ssrc {
			return &s.ssrcs[i]
		}
	}
	if s.n == maxSealSSRCs {
		return nil
	}
	x := &s.ssrcs[s.n]
	x.ssrc = ssrc
	s.n++
	return x
}

// next is the rollover counter for seq, the highest index moved on when
// seq is newer: pion/srtp's estimate (Context's nextRolloverCount and
// updateRolloverCount, v3.0.13) so that both encryptors of one SSRC
// would agree.
func (x *sealIndex) next(seq uint16) uint32 {
	const median, seqMax = 1 << 15, 1 << 16
	if !x.started {
		x.started = true
		x.index |= uint64(seq)
		return uint32(x.index >> 16)
	}
	s, localROC, localSeq := int32(seq), uint32(x.index>>16), int32(x.index&(seqMax-1))
	roc, diff := localROC, s-localSeq
	if x.index > median {
		switch {
		case localSeq < median && s-localSeq > median:
			roc, diff = localROC-1, s-localSeq-seqMax
		case localSeq >= median && localSeq-median > s:
			roc, diff = localROC+1, s-localSeq+seqMax
		}
	}
	if diff > 0 {
		x.index += uint64(diff)
	}
	return roc
}
