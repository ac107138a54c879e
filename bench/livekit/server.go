package livekit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"

	"github.com/seatsfu/seatsfu/bench/proc"
)

// Server is a LiveKit server process started for one measurement.
type Server struct {
	*proc.Server
	WSURL       string // ws://127.0.0.1:port
	MetricsURL  string // its Prometheus listener, for go_goroutines
	Key, Secret string
}

// Start runs the LiveKit binary at bin on 127.0.0.1 only, pinned to cpu
// when cpu ≥ 0. It keeps LiveKit's defaults but for what a loopback
// benchmark needs: dev mode (no Redis), bound to 127.0.0.1 with node IP
// 127.0.0.1, loopback candidates on, one UDP port and one TCP port for
// media on free loopback ports, its own API key, warn-level logs (dev
// mode would log at debug, which costs CPU per packet), and congestion
// control off: the bench viewers send no TWCC or REMB (peer.NewAPI), so
// LiveKit's estimator would only probe with padding bursts that overflow
// the viewers' sockets; seatsfu estimates nothing either, and switching it
// off can only make LiveKit cheaper per packet.
func Start(ctx context.Context, bin string, cpu int, stderr io.Writer) (*Server, error) {
	var ports [4]int
	for i := range ports {
		var err error
		if i == 1 {
			ports[i], err = proc.FreeUDPPort()
		} else {
			ports[i], err = proc.FreeTCPPort()
		}
		if err != nil {
			return nil, err
		}
	}
	httpPort, udpPort, tcpPort, promPort := ports[0], ports[1], ports[2], ports[3]
	raw := make([]byte, 24)
	_, _ = rand.Read(raw)
	key, secret := "seatbench", hex.EncodeToString(raw)
	body := fmt.Sprintf(`port: %d
bind_addresses: ["127.0.0.1"]
prometheus:
  port: %d
keys:
  %s: %s
logging:
  level: warn
rtc:
  tcp_port: %d
  use_external_ip: false
  enable_loopback_candidate: true
  interfaces:
    includes: ["lo"]
  congestion_control:
    enabled: false
turn:
  enabled: false
`, httpPort, promPort, key, secret, tcpPort)
	base := "http://127.0.0.1:" + strconv.Itoa(httpPort)
	p, err := proc.Start(ctx, proc.Spec{
		Name: "livekit",
		Path: bin,
		Args: []string{"--dev", "--bind", "127.0.0.1", "--node-ip", "127.0.0.1",
			"--udp-port", strconv.Itoa(udpPort), "--config-body", body},
		BaseURL:    base,
		CPU:        cpu,
		Stderr:     stderr,
		HealthPath: "/",
	})
	if err != nil {
		return nil, err
	}
	return &Server{
		Server:     p,
		WSURL:      "ws://127.0.0.1:" + strconv.Itoa(httpPort),
		MetricsURL: "http://127.0.0.1:" + strconv.Itoa(promPort),
		Key:        key, Secret: secret,
	}, nil
}
