package main

import (
	"fmt"

	"github.com/seatsfu/seatsfu/sfu"
)

// Overload are the media server's caps for when it is past what it can
// send (sfu/overload.go): a budget of forwarded packets over which new
// subscribers get overloaded / 503, and the budgets of retransmissions and
// keyframe requests beyond which they are shed. Inline in Config.
type Overload struct {
	EgressBudget         int `yaml:"egress-budget"`
	EgressFloor          int `yaml:"egress-floor"`
	EgressCPU            int `yaml:"egress-cpu"`
	ViewerRetransmits    int `yaml:"viewer-retransmits"`
	NodeRetransmits      int `yaml:"node-retransmits"`
	NodeKeyframeRequests int `yaml:"node-keyframe-requests"`
	ReplayBudget         int `yaml:"replay-budget"`
	Handshakes           int `yaml:"handshakes"`
	HandshakeQueue       int `yaml:"handshake-queue"`
}

// defaultOverload: no egress budget (a node does not know its core's
// worth until measured: bench/README.md), and retransmission and keyframe
// budgets far above a healthy node's so they bite only in a storm.
func defaultOverload() Overload {
	return Overload{
		EgressBudget: 0,
		// Without a budget the node still refuses newcomers while its
		// writers fall behind, once its viewers are due this much.
		EgressFloor: sfu.DefaultEgressFloor,
		// And, from the same floor, stops admitting more than it sends
		// once its process uses this share of its cores: before its
		// writers drop (sfu/overload.go, the CPU rule).
		EgressCPU:            sfu.DefaultEgressCPU,
		ViewerRetransmits:    300,
		NodeRetransmits:      20_000,
		NodeKeyframeRequests: 100,
		// No replay budget until one is sized for a real NIC: ordinary
		// joins can reach one (200 joining 8 at a time keep tens of
		// replays going), and a waiting replay costs its viewer frames
		// (bench/README.md).
		ReplayBudget: 0,
		// 0: 64 × GOMAXPROCS, so a node's share follows its cores
		// (sfu/rtcconn/gate.go says why 64).
		Handshakes:     0,
		HandshakeQueue: sfu.DefaultHandshakeQueue,
	}
}

func init() { settings = append(settings, overloadSettings...) }

var overloadSettings = []setting{
	count("egress-budget", "packets per second this node may forward; over it new subscribers get overloaded / 503; 0 = no budget",
		func(c *Config) *int { return &c.Overload.EgressBudget }),
	count("egress-floor", "with no egress budget: packets per second due from which drops over 1 % make new subscribers get overloaded / 503 and teach a ceiling; below it drops are taken for a stall; 0 = off",
		func(c *Config) *int { return &c.Overload.EgressFloor }),
	count("egress-cpu", "with no egress budget: percent of the node's cores (GOMAXPROCS) from which, typically used (median of 5 s) in a second with egress-floor packets per second due, admission stops at what the node sends, before its writers drop (1..100; 0 = off)",
		func(c *Config) *int { return &c.Overload.EgressCPU }),
	count("viewer-retransmits", "retransmissions per second per viewer, the rest shed; 0 = no cap",
		func(c *Config) *int { return &c.Overload.ViewerRetransmits }),
	count("node-retransmits", "retransmissions per second of the node, the rest shed; 0 = no cap",
		func(c *Config) *int { return &c.Overload.NodeRetransmits }),
	count("node-keyframe-requests", "keyframe requests (PLIs) per second of the node to its publishers, the rest shed; 0 = no cap",
		func(c *Config) *int { return &c.Overload.NodeKeyframeRequests }),
	count("replay-budget", "bit/s of keyframe-group replays to joining viewers the node runs at once, by their pacing rates; replays over it wait their turn; 0 = no budget",
		func(c *Config) *int { return &c.Overload.ReplayBudget }),
	count("handshakes", "viewers' DTLS handshakes run at once; the rest wait their turn (a join burst queues, not refused); 0 = 64 × GOMAXPROCS",
		func(c *Config) *int { return &c.Overload.Handshakes }),
	count("handshake-queue", "viewers whose DTLS handshake may wait its turn; past it a ClientHello is dropped and its retransmission asks again (1..1048576)",
		func(c *Config) *int { return &c.Overload.HandshakeQueue }),
}

func (o Overload) validate() error {
	for name, n := range map[string]int{
		"egress-budget": o.EgressBudget, "egress-floor": o.EgressFloor, "egress-cpu": o.EgressCPU, "viewer-retransmits": o.ViewerRetransmits,
		"node-retransmits": o.NodeRetransmits, "node-keyframe-requests": o.NodeKeyframeRequests,
		"replay-budget": o.ReplayBudget, "handshakes": o.Handshakes,
	} {
		if n < 0 {
			return fmt.Errorf("%s: %d is negative (0 means no cap)", name, n)
		}
	}
	if o.EgressCPU > 100 {
		return fmt.Errorf("egress-cpu: %d is over 100 (percent of the node's cores)", o.EgressCPU)
	}
	if o.HandshakeQueue < 1 || o.HandshakeQueue > 1<<20 {
		return fmt.Errorf("handshake-queue: %d is not between 1 and 1048576", o.HandshakeQueue)
	}
	return nil
}

func (o Overload) sfu() sfu.Overload {
	return sfu.Overload{EgressBudget: o.EgressBudget, EgressFloor: o.EgressFloor, EgressCPU: o.EgressCPU, ViewerRetransmits: o.ViewerRetransmits,
		NodeRetransmits: o.NodeRetransmits, NodeKeyframeRequests: o.NodeKeyframeRequests,
		ReplayBudget: o.ReplayBudget, Handshakes: o.Handshakes, HandshakeQueue: o.HandshakeQueue}
}
