package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/internal/redistest"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// writePEM writes one PEM block to dir/name and returns the path.
func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// nodeTLSFlags generates a CA and, for each of n nodes on 127.0.0.1, the
// --node-tls-* flags of a certificate it signed.
func nodeTLSFlags(t *testing.T, n int) [][]string {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test cluster CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	caFile := writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)
	out := make([][]string, n)
	for i := range out {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: "node"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		name := string(rune('a' + i))
		out[i] = []string{
			"--node-tls-cert", writePEM(t, dir, name+".pem", "CERTIFICATE", der),
			"--node-tls-key", writePEM(t, dir, name+".key", "EC PRIVATE KEY", keyDER),
			"--node-tls-ca", caFile,
		}
	}
	return out
}

// TestClusterTLSLinksBetweenProcesses: two seatsfu processes started with
// --node-tls-* relay a client over their mutual-TLS link; a third started
// without them cannot link to the TLS listener (its client gets its own
// room_not_found), and the host logs the plain-text dial it refused.
func TestClusterTLSLinksBetweenProcesses(t *testing.T) {
	rd := redistest.Start(t)
	secret := clusterSecret(t)
	flags := nodeTLSFlags(t, 2)
	a := startNode(t, rd.URL(), secret, flags[0]...)
	b := startNode(t, rd.URL(), secret, flags[1]...)
	plain := startNode(t, rd.URL(), secret)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	owner, _, err := a.join(ctx, t, secret, "r1", "owner", proto.RoleOwner, nil)
	if err != nil {
		t.Fatal(err)
	}
	var guest *signaltest.Conn
	for guest == nil {
		g, _, err := b.join(ctx, t, secret, "r1", "guest", proto.RoleAudience, nil)
		switch {
		case err == nil:
			guest = g
		case !signaltest.IsReason(err, string(proto.ReasonRoomNotFound)) || ctx.Err() != nil:
			t.Fatalf("guest joining through b: %v", err) // b not yet aware of a: retried
		default:
			time.Sleep(20 * time.Millisecond)
		}
	}
	if got := b.metricValue(t, "seatsfu_cluster_links"); got != 1 {
		t.Fatalf("node b has %v links, want 1", got)
	}
	text := "over TLS"
	if err := owner.Call(ctx, proto.MethodRoomSendMessage, proto.MessageParams{Text: &text}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := guest.Wait(ctx, proto.NoteRoomMessage, nil); err != nil {
		t.Fatal(err)
	}

	for !strings.Contains(a.log.String(), "client sent an HTTP request to an HTTPS server") {
		_, _, err := plain.join(ctx, t, secret, "r1", "stranger", proto.RoleAudience, nil)
		if !signaltest.IsReason(err, string(proto.ReasonRoomNotFound)) {
			t.Fatalf("a join through the plain node: %v, want its own room_not_found", err)
		}
		if ctx.Err() != nil {
			t.Fatal("node a never logged the plain-text dial it refused")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := plain.metricValue(t, "seatsfu_cluster_links"); got != 0 {
		t.Fatalf("the plain node has %v links to TLS nodes", got)
	}
}
