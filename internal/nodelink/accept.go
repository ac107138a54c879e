package nodelink

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/seatsfu/seatsfu/internal/cluster"
)

// Listener accepts links on this node's --node-addr.
type Listener struct {
	Self   string // this node's id: tokens must be for it
	Secret []byte
	// IsLive says whether a node id is a live member of the cluster (the
	// registry); a valid token from an unknown node is still refused.
	IsLive func(id string) bool
	// OnLink receives every accepted link; OnFrame is its frame handler.
	OnLink   func(*Link)
	OnFrame  func(*Link, Frame)
	QueueLen int
	Metrics  *Metrics         // nil: not counted
	Now      func() time.Time // time.Now when nil
}

// ServeHTTP authenticates and upgrades one link.
func (ln *Listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if ln.OnFrame == nil {
		http.Error(w, "node link: no frame handler", http.StatusInternalServerError)
		return
	}
	now := time.Now
	if ln.Now != nil {
		now = ln.Now
	}
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		http.Error(w, "node link: bearer token required", http.StatusUnauthorized)
		return
	}
	from, err := cluster.VerifyLinkToken(ln.Secret, raw, ln.Self, now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if ln.IsLive == nil || !ln.IsLive(from) {
		http.Error(w, fmt.Sprintf("node link: %q is not a live node of this cluster", from), http.StatusForbidden)
		return
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept wrote the response
	}
	l := newLink(from, from, conn, ln.QueueLen, ln.OnFrame, ln.Metrics)
	if ln.OnLink != nil {
		ln.OnLink(l)
	}
}

// Path is where a node's link listener is served on --node-addr.
const Path = "/v1/node-link"

// Dial opens a link from node self to node peer at url (ws://host:port/…).
// onFrame handles the frames peer sends (see newLink).
func Dial(ctx context.Context, url string, secret []byte, self, peer string, queueLen int, onFrame func(*Link, Frame)) (*Link, error) {
	return dialLink(ctx, url, secret, self, peer, queueLen, onFrame, nil, nil)
}

// dialLink dials url (over TLS with tc, for a wss:// url).
func dialLink(ctx context.Context, url string, secret []byte, self, peer string, queueLen int, onFrame func(*Link, Frame), m *Metrics, tc *tls.Config) (*Link, error) {
	tok, err := cluster.MintLinkToken(secret, self, peer, time.Now())
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok)
	opts := &websocket.DialOptions{HTTPHeader: h}
	if tc != nil {
		// A transport of its own: this node's certificate, the cluster's
		// CA, the host name checked from url. The upgrade takes its one
		// connection over, so nothing idles in it.
		opts.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	}
	conn, resp, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("nodelink: dial %s (%s): %s: %w", peer, url, resp.Status, err)
		}
		return nil, fmt.Errorf("nodelink: dial %s (%s): %w", peer, url, err)
	}
	return newLink(peer, self, conn, queueLen, onFrame, m), nil
}
