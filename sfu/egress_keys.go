package sfu

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unsafe"

	"github.com/pion/dtls/v3"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// The direct egress path (egress.go) encrypts a viewer's RTP itself, so it
// needs the SRTP keys of the connection's DTLS handshake, which Pion v4.2.20
// keeps to itself.
//
// Two ways were weighed:
//
//   - The public one: make the SFU the DTLS server of subscribe
//     connections, collect client_random and master_secret from the
//     SettingEngine's key-log writer and server_random and the SRTP profile
//     from its ServerHello hook, and recompute RFC 5705's exporter with
//     pion/dtls's PRF. It re-implements the key schedule (suite hash,
//     extended master secret, the label and the split), forces a DTLS role
//     the browser may not take, and a mistake shows only as silent video.
//   - The one taken: read DTLSTransport's unexported conn (the *dtls.Conn
//     Pion itself extracts its keys from) under the transport's own lock,
//     and run the very code Pion runs (srtp.Config.ExtractSessionKeysFromDTLS
//     on the conn's state). A dozen lines, the keys are Pion's by
//     construction, and the DTLS role is whatever was negotiated. The price
//     is a dependency on three private fields of the pinned Pion version:
//     dtlsLayout checks their names and types before any is touched, the
//     direct path is off (Pion's path carries everything) when they do not
//     match, and TestDTLSTransportLayout fails loudly on a Pion upgrade that
//     moves them.

// errDTLSLayout: the pinned Pion's DTLSTransport is not laid out as the
// direct path expects; every viewer keeps Pion's path.
var errDTLSLayout = errors.New("sfu: webrtc.DTLSTransport layout changed: direct egress off")

// dtlsFields are the offsets of the DTLSTransport fields read.
type dtlsFields struct {
	lock, conn, profile uintptr
}

var dtlsLayout = sync.OnceValues(func() (dtlsFields, error) {
	t := reflect.TypeFor[webrtc.DTLSTransport]()
	want := map[string]reflect.Type{
		"lock":                  reflect.TypeFor[sync.RWMutex](),
		"conn":                  reflect.TypeFor[*dtls.Conn](),
		"srtpProtectionProfile": reflect.TypeFor[srtp.ProtectionProfile](),
	}
	off := map[string]uintptr{}
	for name, typ := range want {
		f, ok := t.FieldByName(name)
		if !ok || f.Type != typ {
			return dtlsFields{}, fmt.Errorf("%w: field %s (want %v)", errDTLSLayout, name, typ)
		}
		off[name] = f.Offset
	}
	return dtlsFields{lock: off["lock"], conn: off["conn"], profile: off["srtpProtectionProfile"]}, nil
})

// outboundSRTP is an SRTP context for what this side sends on the
// connection of dt, keyed like Pion's own session, and, for the AEAD
// profiles, the sealer the direct path prefers (egress_seal.go); client
// says whether this side was the DTLS client. It fails until the
// handshake is done.
func outboundSRTP(dt *webrtc.DTLSTransport, client bool) (*srtp.Context, *rtpSealer, error) {
	l, err := dtlsLayout()
	if err != nil {
		return nil, nil, err
	}
	base := unsafe.Pointer(dt)
	mu := (*sync.RWMutex)(unsafe.Add(base, l.lock))
	mu.RLock()
	conn := *(**dtls.Conn)(unsafe.Add(base, l.conn))
	profile := *(*srtp.ProtectionProfile)(unsafe.Add(base, l.profile))
	mu.RUnlock()
	if conn == nil {
		return nil, nil, errors.New("sfu: DTLS not connected")
	}
	state, ok := conn.ConnectionState()
	if !ok {
		return nil, nil, errors.New("sfu: DTLS connection state unavailable")
	}
	cfg := srtp.Config{Profile: profile}
	if err := cfg.ExtractSessionKeysFromDTLS(&state, client); err != nil {
		return nil, nil, fmt.Errorf("sfu: SRTP keys: %w", err)
	}
	ctx, err := srtp.CreateContext(cfg.Keys.LocalMasterKey, cfg.Keys.LocalMasterSalt, profile)
	if err != nil {
		return nil, nil, err
	}
	sealer, err := newRTPSealer(profile, cfg.Keys.LocalMasterKey, cfg.Keys.LocalMasterSalt)
	if err != nil {
		return nil, nil, err
	}
	return ctx, sealer, nil
}

// dtlsClient says whether pc's local description made this side the DTLS
// client (a=setup:active, RFC 5763), as Pion decides for an answer.
func dtlsClient(pc *webrtc.PeerConnection) (bool, error) {
	d := pc.CurrentLocalDescription()
	if d == nil {
		return false, errors.New("sfu: no local description")
	}
	switch {
	case strings.Contains(d.SDP, "a=setup:active"):
		return true, nil
	case strings.Contains(d.SDP, "a=setup:passive"):
		return false, nil
	}
	return false, errors.New("sfu: local description has no DTLS role")
}
