package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatsfu/seatsfu/internal/cluster"
	"github.com/seatsfu/seatsfu/internal/nodelink"
	"github.com/seatsfu/seatsfu/signal"
)

// ClusterSettings make this process one node of a cluster (PROTOCOL.md
// §12). Without Redis nothing of them applies: one node, all in memory.
type ClusterSettings struct {
	Redis        string        `yaml:"redis"`
	NodeAddr     string        `yaml:"node-addr"`
	PublicURL    string        `yaml:"public-url"`
	ClusterTick  time.Duration `yaml:"cluster-tick"`
	LeaseTTL     time.Duration `yaml:"lease-ttl"`
	NodeTTL      time.Duration `yaml:"node-ttl"`
	RedisTimeout time.Duration `yaml:"redis-timeout"`
	LinkQueue    int           `yaml:"link-queue"`
	LinkBuffer   int           `yaml:"link-buffer"`
	LinkResume   time.Duration `yaml:"link-resume"`
	// Mutual TLS on the node links (all three, or none: plain links).
	NodeTLSCert string `yaml:"node-tls-cert"`
	NodeTLSKey  string `yaml:"node-tls-key"`
	NodeTLSCA   string `yaml:"node-tls-ca"`
}

func defaultCluster() ClusterSettings {
	return ClusterSettings{
		ClusterTick:  cluster.DefaultTick,
		LeaseTTL:     cluster.DefaultLeaseTTL,
		NodeTTL:      cluster.DefaultNodeTTL,
		RedisTimeout: cluster.DefaultOpTimeout,
		LinkQueue:    signal.DefaultLinkQueue,
		LinkBuffer:   signal.DefaultLinkBuffer,
		LinkResume:   signal.DefaultLinkResume,
	}
}

func init() { settings = append(settings, clusterSettings...) }

var clusterSettings = []setting{
	{"redis", "Redis `URL` (redis://host:port/db) shared by the cluster's nodes; none = one node, all in memory", func(c *Config, v string) error {
		c.Cluster.Redis = strings.TrimSpace(v)
		return nil
	}},
	{"node-addr", "`HOST:PORT` this node's node-to-node link listener binds, as the other nodes reach it (required with --redis)", func(c *Config, v string) error {
		c.Cluster.NodeAddr = strings.TrimSpace(v)
		return nil
	}},
	{"public-url", "base `URL` clients reach this node's HTTP at, listed to clients choosing a node", func(c *Config, v string) error {
		c.Cluster.PublicURL = strings.TrimSpace(v)
		return nil
	}},
	span("cluster-tick", "how often the node heartbeats, renews its room leases and looks for rooms to take over", func(c *Config) *time.Duration { return &c.Cluster.ClusterTick }),
	span("lease-ttl", "how long a room's lease outlives its host's last renewal: a dead host's rooms move within lease-ttl + cluster-tick", func(c *Config) *time.Duration { return &c.Cluster.LeaseTTL }),
	span("node-ttl", "how long a node missing heartbeats stays listed as live", func(c *Config) *time.Duration { return &c.Cluster.NodeTTL }),
	span("redis-timeout", "longest time one Redis operation may take before the node treats Redis as down", func(c *Config) *time.Duration { return &c.Cluster.RedisTimeout }),
	count("link-queue", "frames one node-to-node link may queue; a peer that lets it fill is dropped and its sessions resume on a new link", func(c *Config) *int { return &c.Cluster.LinkQueue }),
	count("link-buffer", "messages a relayed session keeps until the other node acknowledges them, to resume after a link drops", func(c *Config) *int { return &c.Cluster.LinkBuffer }),
	span("link-resume", "how long a relayed session waits for a new node link before its client's socket closes", func(c *Config) *time.Duration { return &c.Cluster.LinkResume }),
	{"node-tls-cert", "PEM `FILE`: this node's certificate for mutual TLS on the node links, naming its --node-addr host; with --node-tls-key and --node-tls-ca", func(c *Config, v string) error {
		c.Cluster.NodeTLSCert = strings.TrimSpace(v)
		return nil
	}},
	{"node-tls-key", "PEM `FILE`: the private key of --node-tls-cert", func(c *Config, v string) error {
		c.Cluster.NodeTLSKey = strings.TrimSpace(v)
		return nil
	}},
	{"node-tls-ca", "PEM `FILE`: the CA that signs every node's certificate; links from nodes without one are refused", func(c *Config, v string) error {
		c.Cluster.NodeTLSCA = strings.TrimSpace(v)
		return nil
	}},
}

// validateCluster checks the cluster keys and what they need of the rest.
func (c Config) validateCluster() error {
	if c.Cluster.Redis != "" && c.DevMode() {
		return errors.New("secret: required with redis: the nodes of a cluster verify each other's tokens with one shared secret")
	}
	return c.Cluster.validate()
}

// validate checks the cluster keys; the error names the key.
func (cs ClusterSettings) validate() error {
	for name, d := range map[string]time.Duration{
		"cluster-tick": cs.ClusterTick, "lease-ttl": cs.LeaseTTL, "node-ttl": cs.NodeTTL, "redis-timeout": cs.RedisTimeout,
	} {
		if d <= 0 || d > time.Hour {
			return fmt.Errorf("%s: %v is not above 0s and at most 1h", name, d)
		}
	}
	for name, n := range map[string]int{"link-queue": cs.LinkQueue, "link-buffer": cs.LinkBuffer} {
		if n < 16 || n > 1<<20 {
			return fmt.Errorf("%s: %d is not between 16 and 1048576", name, n)
		}
	}
	if cs.LinkResume <= 0 || cs.LinkResume > time.Hour {
		return fmt.Errorf("link-resume: %v is not above 0s and at most 1h", cs.LinkResume)
	}
	if cs.ClusterTick >= cs.LeaseTTL || cs.ClusterTick >= cs.NodeTTL {
		return fmt.Errorf("cluster-tick: %v must be shorter than lease-ttl %v and node-ttl %v", cs.ClusterTick, cs.LeaseTTL, cs.NodeTTL)
	}
	if cs.PublicURL != "" {
		u, err := url.Parse(cs.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("public-url: %q is not an http(s) URL like https://node1.example.com", cs.PublicURL)
		}
	}
	if cs.Redis == "" {
		return nil // one node: node-addr and public-url mean nothing
	}
	st, err := cluster.Open(cluster.Options{URL: cs.Redis})
	if err != nil {
		return fmt.Errorf("redis: %v", err)
	}
	_ = st.Close() // only the URL was checked: nothing was dialled
	host, port, err := net.SplitHostPort(cs.NodeAddr)
	if cs.NodeAddr == "" || err != nil || host == "" {
		return fmt.Errorf("node-addr: %q is not a HOST:PORT the other nodes can reach (required with redis)", cs.NodeAddr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("node-addr: port %q is not 1..65535", port)
	}
	_, err = cs.linkTLS()
	return err
}

// linkTLS loads the node links' mutual TLS; nil without the three files.
func (cs ClusterSettings) linkTLS() (*nodelink.TLS, error) {
	set := 0
	for _, f := range []string{cs.NodeTLSCert, cs.NodeTLSKey, cs.NodeTLSCA} {
		if f != "" {
			set++
		}
	}
	switch set {
	case 0:
		return nil, nil
	case 3:
	default:
		return nil, errors.New("node-tls-cert: node-tls-cert, node-tls-key and node-tls-ca go together (mutual TLS on the node links)")
	}
	lt, err := nodelink.LoadTLS(cs.NodeTLSCert, cs.NodeTLSKey, cs.NodeTLSCA)
	if err != nil {
		return nil, fmt.Errorf("node-tls-cert: %w", err)
	}
	return lt, nil
}

// open connects the store (lazily: Redis may be down at start), listens on
// --node-addr for the other nodes' links and registers the cluster's
// metrics; nil without --redis.
func (cs ClusterSettings) open(reg prometheus.Registerer) (*signal.Cluster, error) {
	if cs.Redis == "" {
		return nil, nil
	}
	m, err := cluster.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	store, err := cluster.Open(cluster.Options{URL: cs.Redis, OpTimeout: cs.RedisTimeout, Metrics: m})
	if err != nil {
		return nil, err
	}
	lt, err := cs.linkTLS()
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", cs.NodeAddr)
	if err != nil {
		_ = store.Close()
		return nil, fmt.Errorf("node-addr: %w", err)
	}
	return &signal.Cluster{Store: store, Listener: ln, LinkQueue: cs.LinkQueue, LinkBuffer: cs.LinkBuffer, LinkResume: cs.LinkResume, LinkTLS: lt, Node: cluster.Config{
		Info:     cluster.NodeInfo{NodeAddr: cs.NodeAddr, HTTPAddr: cs.PublicURL},
		Tick:     cs.ClusterTick,
		NodeTTL:  cs.NodeTTL,
		LeaseTTL: cs.LeaseTTL,
	}}, nil
}
