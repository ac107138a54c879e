package signal_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/internal/nodelink"
	"github.com/seatsfu/seatsfu/internal/redistest"
	"github.com/seatsfu/seatsfu/signal"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// testCA is a throw-away certificate authority for node certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// node issues a certificate for a node on 127.0.0.1, for both ends of a
// link.
func (ca *testCA) node(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// logBuffer collects a node's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) has(parts ...string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, line := range strings.Split(b.buf.String(), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

func withLinkTLS(lt *nodelink.TLS) signaltest.Option {
	return signaltest.WithSignalConfig(func(c *signal.Config) { c.Cluster.LinkTLS = lt })
}

// TestClusterLinkTLS: nodes with certificates of the cluster's CA link
// over mutual TLS and relay as usual; a node whose certificate another CA
// signed, and a node dialling in plain text, are refused by the TLS
// listener — each with a warning in the host's log saying why — and
// their clients get the node's own answer instead of the host's.
func TestClusterLinkTLS(t *testing.T) {
	rd := redistest.Start(t)
	secret := newSecret(t)
	ca, other := newTestCA(t, "cluster CA"), newTestCA(t, "another CA")
	logs := &logBuffer{}
	a := clusterNode(t, rd, secret, withLinkTLS(nodelink.NewTLS(ca.node(t, "a"), ca.pool)),
		signaltest.WithSignalConfig(func(c *signal.Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) }))
	b := clusterNode(t, rd, secret, withLinkTLS(nodelink.NewTLS(ca.node(t, "b"), ca.pool)))
	// c trusts the cluster's CA but holds a certificate of another one.
	stranger := nodelink.NewTLS(other.node(t, "c"), ca.pool)
	c := clusterNode(t, rd, secret, withLinkTLS(stranger))
	plain := clusterNode(t, rd, secret)

	owner, _ := join(t, a, "r1", "owner", proto.RoleOwner, nil)
	guest := joinVia(t, b, "r1", "guest")
	call(t, owner, proto.MethodRoomSendMessage, proto.MessageParams{Text: ptr("over TLS")}, nil)
	wait(t, guest, proto.NoteRoomMessage, messageFrom("over TLS"))
	if got := gaugeValue(t, b, "seatsfu_cluster_links"); got != 1 {
		t.Fatalf("node b has %v links, want 1", got)
	}

	for name, node := range map[string]*signaltest.Env{"c (another CA)": c, "plain": plain} {
		conn := dial(t, node, "r1", "x", proto.RoleAudience)
		err := conn.Call(testCtx(t), proto.MethodRoomJoin, nil, nil)
		if !signaltest.IsReason(err, "room_not_found") {
			t.Fatalf("node %s: a join of a's room answered %v, want its own room_not_found (no link)", name, err)
		}
		if got := gaugeValue(t, node, "seatsfu_cluster_links"); got != 0 {
			t.Fatalf("node %s has %v links to a TLS listener", name, got)
		}
	}
	eventually(t, "a's log naming the plain-text dial", func() bool {
		return logs.has("node link refused", "client sent an HTTP request to an HTTPS server")
	})
	defer func() {
		if t.Failed() {
			logs.mu.Lock()
			t.Log(logs.buf.String())
			logs.mu.Unlock()
		}
	}()
	eventually(t, "a's log naming the foreign certificate", func() bool {
		return logs.has("node link refused", "certificate signed by unknown authority")
	})
}
