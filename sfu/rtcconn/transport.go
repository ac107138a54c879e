package rtcconn

import (
	"errors"
	"net/netip"
	"sync"
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
	Connected(out *srtp.Context, profile srtp.ProtectionProfile, addr netip.AddrPort)
	// Moved: the viewer nominated another address (after Connected).
	Moved(addr netip.AddrPort)
	// RTCP is one decrypted compound RTCP packet from the viewer; b is
	// reused after the call.
	RTCP(b []byte)
	// Closed: the transport is closed (consent lost, handshake failed,
	// ICE never completed, or Close). Called once.
	Closed(err error)
}

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
	selected    netip.AddrPort // the nominated address; zero until nominated
	lastConsent time.Time
	nextCheck   time.Time
	leaving     time.Time          // a goodbye was seen: consent must be renewed by then
	pending     map[[12]byte]check // our outstanding checks
	probed      map[netip.AddrPort]bool

	phase      dtlsPhase
	dc         *dtlsConn
	conn       *dtls.Conn
	upAt       time.Time
	lastFlight [][]byte
	lastReplay time.Time
	srtcp      *srtp.Context // decrypts the viewer's SRTCP
	rtcpBuf    []byte
}

type check struct {
	addr netip.AddrPort
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
		pending: map[[12]byte]check{}, probed: map[netip.AddrPort]bool{}}
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
	if notify {
		t.h.Closed(err)
	}
}

// Addr is the nominated address, invalid until ICE nominated one.
func (t *Transport) Addr() netip.AddrPort {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.selected
}

// receive handles one datagram from addr (RFC 7983's ranges).
func (t *Transport) receive(b []byte, addr netip.AddrPort) {
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
	case !t.selected.IsValid():
		if now.Sub(t.created) > t.m.cfg.ConnectTimeout {
			fail = ErrICETimeout
		}
	case now.Sub(t.lastConsent) > t.m.cfg.ConsentTimeout:
		fail = ErrConsentLost
	case !t.leaving.IsZero() && now.After(t.leaving):
		fail = ErrViewerLeft
	}
	var probe netip.AddrPort
	if fail == nil && t.selected.IsValid() && !now.Before(t.nextCheck) {
		probe, t.nextCheck = t.selected, now.Add(t.m.jitter())
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
	if probe.IsValid() {
		t.sendCheck(probe, now)
	}
	if linger {
		t.tearDownDTLS()
	}
}

// goodbye is a sign the viewer is leaving — a DTLS alert (its close_notify,
// which the SFU cannot read once its DTLS is down) or an RTCP BYE. Neither
// is trusted alone (a forged one must not end a viewer): it asks for consent
// at once, and a viewer that does not answer within leaveProbe is closed,
// instead of after the whole consent timeout.
func (t *Transport) goodbye() {
	now := t.m.now()
	t.mu.Lock()
	if t.closed || !t.selected.IsValid() || !t.leaving.IsZero() {
		t.mu.Unlock()
		return
	}
	t.leaving = now.Add(leaveProbe)
	addr := t.selected
	t.mu.Unlock()
	t.sendCheck(addr, now)
}
