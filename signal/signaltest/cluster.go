package signaltest

import (
	"net"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/internal/cluster"
	"github.com/seatsfu/seatsfu/signal"
)

// Cluster timings of StartNode: a dead node's rooms move within 1.1 s
// instead of 3.5 s.
const (
	NodeTick = 100 * time.Millisecond
	NodeTTL  = time.Second
)

// StartNode starts one in-process node (its own HTTP and UDP ports) of the
// cluster that shares redisURL and secret (PROTOCOL.md §12). The node lists
// its own URL, so that other nodes relay to it.
func StartNode(t testing.TB, redisURL string, secret []byte, opts ...Option) *Env {
	t.Helper()
	store := OpenStore(t, redisURL)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("signaltest: listen: %v", err)
	}
	links, err := net.Listen("tcp", "127.0.0.1:0") // closed by the server's Shutdown
	if err != nil {
		t.Fatalf("signaltest: listen: %v", err)
	}
	opts = append([]Option{
		WithSecret(secret),
		WithListener(ln),
		WithSignalConfig(func(c *signal.Config) {
			c.Cluster = &signal.Cluster{Store: store, Listener: links, Node: cluster.Config{
				Info: cluster.NodeInfo{NodeAddr: links.Addr().String(), HTTPAddr: "http://" + ln.Addr().String()},
				Tick: NodeTick, NodeTTL: NodeTTL, LeaseTTL: NodeTTL,
			}}
		}),
	}, opts...)
	return Start(t, opts...)
}

// OpenStore opens a cluster store on redisURL, closed after everything the
// test starts later has stopped.
func OpenStore(t testing.TB, redisURL string) *cluster.Store {
	t.Helper()
	store, err := cluster.Open(cluster.Options{URL: redisURL, OpTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatalf("signaltest: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return store
}
