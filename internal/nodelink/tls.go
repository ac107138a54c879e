package nodelink

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLS is mutual TLS on the node links (PROTOCOL.md §12): every node
// presents a certificate signed by the cluster's CA and accepts only peers
// whose certificate that CA signed. It is on top of the secret-signed node
// token, not instead of it: a certificate proves the peer is a machine of
// the cluster, the token that it is a live node of this cluster now.
//
// Each node's certificate must name the host of its --node-addr (a DNS or
// IP subject alternative name: the dialler checks it as any TLS client
// does) and allow both server and client authentication, since every node
// both accepts and dials links.
type TLS struct {
	Server *tls.Config // the listener's: requires and verifies a client certificate
	Client *tls.Config // the dialler's: presents its certificate, verifies the peer's
}

// NewTLS builds both sides from this node's certificate and the cluster's
// CA pool.
func NewTLS(cert tls.Certificate, ca *x509.CertPool) *TLS {
	return &TLS{
		Server: &tls.Config{
			MinVersion:   tls.VersionTLS13,
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    ca,
		},
		Client: &tls.Config{
			MinVersion: tls.VersionTLS13,
			RootCAs:    ca,
			// Always presented, even when the peer asks for another CA's:
			// the peer then logs "signed by unknown authority", which says
			// what is wrong, not "didn't provide a certificate".
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil },
		},
	}
}

// LoadTLS reads PEM files: this node's certificate (chain) and key, and
// the CA certificate(s) that sign every node's certificate.
func LoadTLS(certFile, keyFile, caFile string) (*TLS, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("node certificate and key: %w", err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("node CA: %w", err)
	}
	ca := x509.NewCertPool()
	if !ca.AppendCertsFromPEM(pem) {
		return nil, errors.New("node CA: no PEM certificate in " + caFile)
	}
	return NewTLS(cert, ca), nil
}
