package rtcconn

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/fingerprint"
	"github.com/pion/srtp/v3"
)

// The viewer's DTLS (RFC 5764). The SFU is the server (the answer says
// a=setup:passive, as the Pion path's does), and skips the HelloVerify
// cookie: ICE has proved the viewer's address before its ClientHello can
// reach us (only a learned address routes DTLS here).
//
// Pion's dtls.Conn needs two goroutines (and one more waiting on the
// handshake) for as long as it is open; a viewer needs it only for the
// keys. So once the keys are handed over it stays up only until the
// viewer has surely finished too: its first authenticated SRTCP (the
// viewer sends RTCP only with its own keys, so after our last flight
// arrived), or DTLSLinger without any. Then it is torn down without
// close_notify — the packet conn is closed first, so dtls.Conn's farewell
// alert has nowhere to go; an alert would make the viewer tear the
// connection down. If our last flight was lost after all, the viewer
// retransmits its own; the transport answers that by resending the
// datagrams of our last flight, kept for that purpose (a few hundred bytes
// per viewer).

// handshakeTimeout bounds a viewer's handshake.
const handshakeTimeout = 10 * time.Second

// dtlsQueue bounds the datagrams waiting for a viewer's handshake.
const dtlsQueue = 32

// maxFlight bounds the datagrams of the last flight kept.
const maxFlight = 8

// replayEvery is the least time between two resends of the last flight
// (the viewer retransmits after 1 s or more).
const replayEvery = 250 * time.Millisecond

// Profiles are the SRTP protection profiles offered, the contract's order
// (AES-GCM first), as the Pion path's SettingEngine has them.
var Profiles = []dtls.SRTPProtectionProfile{
	dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AEAD_AES_256_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80,
}

// NewCertificate makes the node's DTLS certificate: ECDSA P-256,
// self-signed, as WebRTC endpoints use (its fingerprint goes into every
// answer).
func NewCertificate() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return tls.Certificate{}, err
	}
	tpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "seatsfu"},
		NotBefore: time.Now().Add(-24 * time.Hour), NotAfter: time.Now().AddDate(1, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// Fingerprint is the a=fingerprint value of cert ("sha-256 AB:CD:…").
func Fingerprint(cert tls.Certificate) (string, error) {
	leaf := cert.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return "", err
		}
	}
	fp, err := fingerprint.Fingerprint(leaf, crypto.SHA256)
	if err != nil {
		return "", err
	}
	return "sha-256 " + fp, nil
}

func (t *Transport) handleDTLS(b []byte, addr Path) {
	if b[0] == 21 && len(b) > 4 && (b[3] != 0 || b[4] != 0) {
		t.goodbye() // an alert after the handshake (epoch > 0): likely close_notify
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	switch t.phase {
	case dtlsIdle:
		if b[0] != 22 { // a handshake record: the ClientHello
			t.mu.Unlock()
			return
		}
		if !t.selected.Valid() {
			// DTLS before nomination (the viewer's agent sent it on a
			// pair it validated): take that pair.
			t.selected, t.lastConsent, t.nextCheck = addr, t.m.now(), t.m.now().Add(t.m.jitter())
		}
		// The handshake waits its turn at the node's gate (gate.go); with
		// the queue full the ClientHello is dropped and its retransmission
		// asks again.
		tk := t.m.gate.take()
		if tk == nil {
			t.mu.Unlock()
			return
		}
		t.phase = dtlsHandshaking
		t.dc = newDTLSConn(t)
		t.dc.queued.Store(tk.waiter != nil)
		t.m.cfg.Metrics.DTLSActive.Inc()
		t.m.wg.Add(1)
		go t.handshake(t.dc, tk)
		dc := t.dc
		t.mu.Unlock()
		dc.push(b, addr.Addr) // the ClientHello its turn will answer
	case dtlsHandshaking, dtlsUp:
		dc := t.dc
		t.mu.Unlock()
		if dc.queued.Load() {
			dc.absorbed.Add(1) // a retransmitted ClientHello while waiting
			return
		}
		dc.push(b, addr.Addr)
	case dtlsDown:
		// Our last flight was lost: the viewer retransmits its own.
		flight, now := t.lastFlight, t.m.now()
		replay := (b[0] == 22 || b[0] == 20) && len(flight) > 0 && now.Sub(t.lastReplay) >= replayEvery
		if replay {
			t.lastReplay = now
		}
		t.mu.Unlock()
		if replay {
			for _, d := range flight {
				t.send(d, addr)
			}
			t.m.cfg.Metrics.FlightReplays.Inc()
		}
	default:
		t.mu.Unlock()
	}
}

// handshake runs the DTLS server for one viewer; its goroutine ends with
// the handshake, dtls.Conn's own two with the teardown.
func (t *Transport) handshake(dc *dtlsConn, tk *ticket) {
	defer t.m.wg.Done()
	if !t.m.gate.wait(tk, dc.done, t.m.stop) {
		// The viewer went away while waiting (its transport closed,
		// which closed dc): it leaves the queue, no handshake ran.
		t.mu.Lock()
		if t.phase == dtlsHandshaking {
			t.phase = dtlsFailed
		}
		t.mu.Unlock()
		dc.Close()
		t.m.cfg.Metrics.DTLSActive.Dec()
		return
	}
	dc.queued.Store(false)
	out, in, profile, conn, err := t.runHandshake(dc)
	t.m.gate.done()
	m := t.m.cfg.Metrics
	t.mu.Lock()
	if err != nil || t.closed {
		t.phase = dtlsFailed
		closed := t.closed
		t.mu.Unlock()
		dc.Close()
		if conn != nil {
			_ = conn.Close()
		}
		if err != nil && !closed {
			m.Handshakes.WithLabelValues("failed").Inc()
			t.close(fmt.Errorf("rtcconn: DTLS: %w", err))
		}
		m.DTLSActive.Dec()
		return
	}
	t.phase, t.conn, t.srtcp, t.upAt = dtlsUp, conn, in, t.m.now()
	addr := t.selected
	t.mu.Unlock()
	t.settled.Store(true)
	m.Handshakes.WithLabelValues("ok").Inc()
	t.h.Connected(out, profile, addr)
}

func (t *Transport) runHandshake(dc *dtlsConn) (out, in *srtp.Context, profile srtp.ProtectionProfile, conn *dtls.Conn, err error) {
	cfg := &dtls.Config{
		Certificates:            []tls.Certificate{t.m.cert},
		SRTPProtectionProfiles:  Profiles,
		ClientAuth:              dtls.RequireAnyClientCert,
		ExtendedMasterSecret:    dtls.RequireExtendedMasterSecret,
		InsecureSkipVerify:      true, // self-signed: the fingerprint is what is checked
		InsecureSkipVerifyHello: true,
		VerifyPeerCertificate:   t.verifyFingerprint,
	}
	conn, err = dtls.Server(dc, dc.RemoteAddr(), cfg)
	if err != nil {
		return nil, nil, 0, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	if err = conn.HandshakeContext(ctx); err != nil {
		return nil, nil, 0, conn, err
	}
	p, ok := conn.SelectedSRTPProtectionProfile()
	if !ok {
		return nil, nil, 0, conn, errors.New("no SRTP profile negotiated")
	}
	profile = srtp.ProtectionProfile(p)
	state, ok := conn.ConnectionState()
	if !ok {
		return nil, nil, 0, conn, errors.New("no connection state")
	}
	keys := srtp.Config{Profile: profile}
	if err = keys.ExtractSessionKeysFromDTLS(&state, false); err != nil {
		return nil, nil, 0, conn, err
	}
	if out, err = srtp.CreateContext(keys.Keys.LocalMasterKey, keys.Keys.LocalMasterSalt, profile); err != nil {
		return nil, nil, 0, conn, err
	}
	if in, err = srtp.CreateContext(keys.Keys.RemoteMasterKey, keys.Keys.RemoteMasterSalt, profile); err != nil {
		return nil, nil, 0, conn, err
	}
	return out, in, profile, conn, nil
}

// verifyFingerprint checks the viewer's certificate against the offer's
// a=fingerprint (RFC 8122 §5).
func (t *Transport) verifyFingerprint(raw [][]byte, _ [][]*x509.Certificate) error {
	if len(raw) == 0 {
		return errors.New("no certificate")
	}
	cert, err := x509.ParseCertificate(raw[0])
	if err != nil {
		return err
	}
	hashes := map[string]crypto.Hash{"sha-1": crypto.SHA1, "sha-224": crypto.SHA224, "sha-256": crypto.SHA256,
		"sha-384": crypto.SHA384, "sha-512": crypto.SHA512}
	h, ok := hashes[strings.ToLower(t.p.FingerprintAlgo)]
	if !ok {
		return fmt.Errorf("fingerprint algorithm %q unsupported", t.p.FingerprintAlgo)
	}
	fp, err := fingerprint.Fingerprint(cert, h)
	if err != nil {
		return err
	}
	if !strings.EqualFold(fp, t.p.Fingerprint) {
		return errors.New("certificate does not match the offer's fingerprint")
	}
	return nil
}

// tearDownDTLS ends the DTLS connection's goroutines once the viewer has
// finished, without close_notify, keeping the last flight.
func (t *Transport) tearDownDTLS() {
	t.mu.Lock()
	if t.phase != dtlsUp {
		t.mu.Unlock()
		return
	}
	t.phase = dtlsDown
	dc, conn := t.dc, t.conn
	t.lastFlight = dc.flight()
	t.dc, t.conn = nil, nil
	t.mu.Unlock()
	dc.Close() // first: the farewell alert Close would send goes nowhere
	_ = conn.Close()
	t.m.cfg.Metrics.DTLSActive.Dec()
}

// stopDTLS ends whatever DTLS is up, on close.
func (t *Transport) stopDTLS() {
	t.mu.Lock()
	dc, conn, phase := t.dc, t.conn, t.phase
	t.dc, t.conn = nil, nil
	if phase == dtlsUp {
		t.phase = dtlsDown
	}
	t.mu.Unlock()
	if dc != nil {
		dc.Close() // a running handshake fails and its goroutine cleans up
	}
	if conn != nil && phase == dtlsUp {
		_ = conn.Close()
		t.m.cfg.Metrics.DTLSActive.Dec()
	}
}

// handleSRTCP decrypts the viewer's RTCP inline — on the demux's read
// loop, or on the reader of the viewer's ICE-TCP connection — and hands it
// on; rtcpMu keeps the two from sharing the context or the buffer at once.
// The first authenticated packet proves the viewer finished its
// handshake: DTLS can go.
func (t *Transport) handleSRTCP(b []byte) {
	t.rtcpMu.Lock()
	defer t.rtcpMu.Unlock()
	t.mu.Lock()
	ctx, phase, closed := t.srtcp, t.phase, t.closed
	t.mu.Unlock()
	if ctx == nil || closed {
		return
	}
	out, err := ctx.DecryptRTCP(t.rtcpBuf[:0], b, nil)
	if err != nil {
		t.m.cfg.Metrics.SRTCPFailures.Inc()
		return
	}
	t.rtcpBuf = out[:0]
	if phase == dtlsUp {
		t.tearDownDTLS()
	}
	if hasBye(out) {
		t.goodbye()
	}
	t.h.RTCP(out)
}

// dtlsConn is the net.PacketConn one viewer's dtls.Conn runs on: reads
// from the demux through a bounded queue, writes to the viewer's address.
// It remembers the datagrams written since the last one read: after the
// handshake that is our last flight.
type dtlsConn struct {
	*queue
	t      *Transport
	remote net.Addr

	// queued: the handshake waits at the gate; datagrams (the
	// ClientHello's retransmissions) are dropped until it runs.
	queued   atomic.Bool
	absorbed atomic.Int64 // datagrams dropped while queued

	fmu    sync.Mutex
	fresh  bool // a datagram was read since the last write
	frames [][]byte
}

func newDTLSConn(t *Transport) *dtlsConn {
	return &dtlsConn{queue: newQueue(dtlsQueue), t: t, remote: net.UDPAddrFromAddrPort(t.selected.Addr)}
}

func (c *dtlsConn) push(b []byte, addr netip.AddrPort) { c.queue.push(b, addr) }

func (c *dtlsConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, _, err := c.read(b)
	if err != nil {
		return 0, nil, err
	}
	c.fmu.Lock()
	c.fresh = true
	c.fmu.Unlock()
	return n, c.remote, nil
}

func (c *dtlsConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	select {
	case <-c.done:
		return 0, net.ErrClosed
	default:
	}
	c.fmu.Lock()
	if c.fresh {
		c.fresh, c.frames = false, c.frames[:0]
	}
	if len(c.frames) < maxFlight {
		c.frames = append(c.frames, append([]byte(nil), b...))
	}
	c.fmu.Unlock()
	c.t.Send(b)
	return len(b), nil
}

func (c *dtlsConn) flight() [][]byte {
	c.fmu.Lock()
	defer c.fmu.Unlock()
	return c.frames
}

func (c *dtlsConn) Close() error {
	c.shut()
	return nil
}

func (c *dtlsConn) LocalAddr() net.Addr  { return c.t.m.conn.LocalAddr() }
func (c *dtlsConn) RemoteAddr() net.Addr { return c.remote }

func (c *dtlsConn) SetDeadline(t time.Time) error {
	c.setReadDeadline(t)
	return nil
}

func (c *dtlsConn) SetReadDeadline(t time.Time) error {
	c.setReadDeadline(t)
	return nil
}

func (c *dtlsConn) SetWriteDeadline(time.Time) error { return nil }

// hasBye says whether a compound RTCP packet holds a BYE (RFC 3550 §6.6).
func hasBye(b []byte) bool {
	for len(b) >= 4 {
		if b[1] == 203 {
			return true
		}
		n := 4 * (int(b[2])<<8 | int(b[3]) + 1)
		if n > len(b) {
			return false
		}
		b = b[n:]
	}
	return false
}
