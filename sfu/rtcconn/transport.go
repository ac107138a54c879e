package rtcconn

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/srtp/v3"
)

// Errors a transport closes with (Handler.Closed).
var (
	ErrConsentLost = errors.New("rtcconn: consent lost (RFC 7675)")
	ErrICETimeout  = errors.New("rtcconn: ICE did not complete")
	ErrViewerLeft  = errors.New("rtcconn: the viewer said goodbye and stopped answering")
)

// leaveProbe is how long a viewer that sent a DTLS alert or an RTCP BYE
// has to answer a consent check before it counts as gone.
const leaveProbe = time.Second

// Handler is what a viewer's transport tells its owner. Every call is made
// on the demux's read or timer loop, or a handshake's goroutine, without
// the transport's lock: it must not block.
type Handler interface {
	// Connected: the handshake is over; out encrypts what the SFU sends
	// (SRTP and SRTCP), to addr. Called once.
	Connected(out *srtp.Context, profile srtp.ProtectionProfile, path Path)
	// Moved: the viewer nominated another path (after Connected).
	Moved(path Path)
	// RTCP is one decrypted compound RTCP packet from the viewer; b is
	// reused after the call.
	RTCP(b []byte)
	// Closed: the transport is closed (consent lost, handshake failed,
	// ICE never completed, or Close). Called once.
	Closed(err error)
}

// Path is where a viewer is reached: a UDP address on the media socket,
// or (TCP) an ICE-TCP connection of the viewer's from that address
// (RFC 4571 framing, tcp.go).
type Path struct {
	Addr netip.AddrPort
	TCP  bool
}

// Valid says whether the path is set.
func (p Path) Valid() bool { return p.Addr.IsValid() }

// Params are one viewer's credentials: ours (the answer's) and theirs
// (the offer's).
type Params struct {
	LocalUfrag, LocalPwd   string
	RemoteUfrag, RemotePwd string
	// RemoteFingerprint is the offer's a=fingerprint: "sha-256", "AB:CD…".
	FingerprintAlgo, Fingerprint string
}

type dtlsPhase int

const (
	dtlsIdle        dtlsPhase = iota // no ClientHello yet
	dtlsHandshaking                  // the handshake's goroutines run
	dtlsUp                           // keys handed over; Pion's DTLS still up, in case our last flight was lost
	dtlsDown                         // torn down; the last flight is kept to resend
	dtlsFailed
)

// Transport is one viewer's connection on the node's media port.
type Transport struct {
	m       *Mux
	h       Handler
	p       Params
	tiebrk  uint64
	created time.Time

	// Under m.mu: the addresses the demux maps to this transport.
	addrs   []netip.AddrPort
	removed bool

	mu          sync.Mutex
	closed      bool
	selected    Path                        // the nominated path; zero until nominated
	tcp         map[netip.AddrPort]*tcpConn // the viewer's ICE-TCP connections (tcp.go)
	lastConsent time.Time
	nextCheck   time.Time
	leaving     time.Time // a goodbye was seen: consent must be renewed by then
	leaveCheck  time.Time // the check that may renew it goes out then, not before
	leaveSent   bool
	pending     map[[12]byte]check // our outstanding checks
	probed      map[Path]bool

	phase      dtlsPhase
	dc         *dtlsConn
	conn       *dtls.Conn
	upAt       time.Time
	lastFlight [][]byte
	lastReplay time.Time
	srtcp      *srtp.Context // decrypts the viewer's SRTCP, under rtcpMu

	rtcpMu  sync.Mutex // handleSRTCP's: the SRTCP context and rtcpBuf
	rtcpBuf []byte

	// settled is set once the DTLS handshake handed the keys over: from
	// then on the viewer's datagrams may wait for the outbox (outbox.go).
	settled atomic.Bool
}

type check struct {
	addr Path
	sent time.Time
}

// maxPending bounds a viewer's outstanding checks.
const maxPending = 16

// NewTransport registers a viewer by its local ufrag; its packets reach
// it from then on.
func (m *Mux) NewTransport(p Params, h Handler) (*Transport, error) {
	if p.LocalUfrag == "" || p.LocalPwd == "" || p.RemoteUfrag == "" || p.RemotePwd == "" {
		return nil, errors.New("rtcconn: ICE credentials missing")
	}
	if p.Fingerprint == "" {
		return nil, errors.New("rtcconn: remote DTLS fingerprint missing")
	}
	t := &Transport{m: m, h: h, p: p, tiebrk: randUint64(), created: m.now(),
		pending: map[[12]byte]check{}, probed: map[Path]bool{}, tcp: map[netip.AddrPort]*tcpConn{}}
	if err := m.register(t); err != nil {
		return nil, err
	}
	return t, nil
}

// Close ends the transport without a word to the viewer (its signalling
// says why). It does not call Handler.Closed.
func (t *Transport) Close() error {
	t.shutdown(nil, false)
	return nil
}

func (t *Transport) close(err error) { t.shutdown(err, true) }

func (t *Transport) shutdown(err error, notify bool) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	t.mu.Unlock()
	t.m.unregister(t)
	t.stopDTLS()
	t.closeTCP()
	if notify {
		t.h.Closed(err)
	}
}

// Addr is the nominated path, invalid until ICE nominated one.
func (t *Transport) Addr() Path {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.selected
}

// receive handles one datagram from addr (RFC 7983's ranges).
func (t *Transport) receive(b []byte, addr Path) {
	switch {
	case b[0] < 4:
		t.handleSTUN(b, addr)
	case b[0] >= 20 && b[0] <= 63:
		t.handleDTLS(b, addr)
	case b[0] >= 128 && b[0] <= 191 && len(b) > 1 && b[1] >= 192 && b[1] <= 223:
		t.handleSRTCP(b)
	}
}

// onTick is the timer loop's visit: consent checks and expiry, the DTLS
// linger.
func (t *Transport) onTick(now time.Time) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	for id, c := range t.pending {
		if now.Sub(c.sent) > t.m.cfg.ConsentTimeout {
			delete(t.pending, id)
		}
	}
	var fail error
	switch {
	case !t.selected.Valid():
		if now.Sub(t.created) > t.m.cfg.ConnectTimeout {
			fail = ErrICETimeout
		}
	case now.Sub(t.lastConsent) > t.m.cfg.ConsentTimeout:
		fail = ErrConsentLost
	case !t.leaving.IsZero() && now.After(t.leaving):
		fail = ErrViewerLeft
	}
	var probe Path
	if fail == nil && t.selected.Valid() && !now.Before(t.nextCheck) {
		probe, t.nextCheck = t.selected, now.Add(t.m.jitter())
	}
	if fail == nil && !t.leaving.IsZero() && !t.leaveSent && !now.Before(t.leaveCheck) {
		probe, t.leaveSent = t.selected, true
	}
	linger := t.phase == dtlsUp && now.Sub(t.upAt) > t.m.cfg.DTLSLinger
	t.mu.Unlock()
	if fail != nil {
		if fail != ErrViewerLeft {
			t.m.cfg.Metrics.ConsentLost.Inc()
		}
		t.close(fail)
		return
	}
	if probe.Valid() {
		t.sendCheck(probe, now)
	}
	if linger {
		t.tearDownDTLS()
	}
}

// goodbye is a sign the viewer is leaving — a DTLS alert (its close_notify,
// which the SFU cannot read once its DTLS is down) or an RTCP BYE. Neither
// is trusted alone (a forged one must not end a viewer): the timer loop
// asks for consent a quarter of leaveProbe later — a closing agent still
// answers checks for a moment after its DTLS said goodbye — and a viewer
// that has not answered that check by leaveProbe is closed, instead of
// after the whole consent timeout.
func (t *Transport) goodbye() {
	now := t.m.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || !t.selected.Valid() || !t.leaving.IsZero() {
		return
	}
	t.leaving, t.leaveCheck, t.leaveSent = now.Add(leaveProbe), now.Add(leaveProbe/4), false
}

// send writes one datagram (or, on TCP, one framed packet) to path: once
// the viewer is connected, through the outbox when there is one.
func (t *Transport) send(b []byte, path Path) {
	if !path.TCP {
		if o := t.m.cfg.Outbox; o != nil && t.settled.Load() && o.Post(b, path.Addr) {
			return
		}
		_, _ = t.m.conn.WriteToUDPAddrPort(b, path.Addr)
		return
	}
	t.mu.Lock()
	c := t.tcp[path.Addr]
	t.mu.Unlock()
	if c != nil {
		c.write(b)
	}
}

// Send writes an already protected packet (SRTP, SRTCP) to the viewer's
// nominated path: what the SFU's writer does for a viewer on ICE-TCP,
// which the direct path (UDP only) cannot carry.
func (t *Transport) Send(b []byte) {
	if p := t.Addr(); p.Valid() {
		t.send(b, p)
	}
}

// LocalSRTPKeys is the SRTP master key and salt this side sends with, from
// the finished handshake (the same RFC 5764 export that keys Connected's
// Context), for an encryptor of the caller's own (issue 16: the SFU's
// direct egress seals AEAD SRTP itself). It fails before the handshake and
// once the DTLS connection is torn down (DTLSLinger after it): call it
// from Connected.
func (t *Transport) LocalSRTPKeys() (key, salt []byte, err error) {
	t.mu.Lock()
	conn := t.conn
	t.mu.Unlock()
	if conn == nil {
		return nil, nil, errors.New("rtcconn: DTLS not up")
	}
	p, ok := conn.SelectedSRTPProtectionProfile()
	if !ok {
		return nil, nil, errors.New("rtcconn: no SRTP profile negotiated")
	}
	state, ok := conn.ConnectionState()
	if !ok {
		return nil, nil, errors.New("rtcconn: no DTLS connection state")
	}
	keys := srtp.Config{Profile: srtp.ProtectionProfile(p)}
	if err := keys.ExtractSessionKeysFromDTLS(&state, false); err != nil { // the server's side, as runHandshake
		return nil, nil, err
	}
	return keys.Keys.LocalMasterKey, keys.Keys.LocalMasterSalt, nil
}
