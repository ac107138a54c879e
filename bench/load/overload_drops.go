package load

import (
	"os"
	"strconv"
	"strings"

	"github.com/seatsfu/seatsfu/bench/proc"
)

// Where a window's packets were lost (issue 16's join bursts). A viewer's
// loss alone cannot say whether the server never sent a packet, the kernel
// threw it away, or the generator's own viewers were too slow to read it:
// dropMark reads, at each end of a window, every counter that can tell
// them apart.
//
//   - the server's own queue drops (seatsfu_dropped_packets_total: a
//     viewer's writer fell behind) and its direct path's send errors;
//   - the server's media socket's receive drops (/proc/net/udp "drops" on
//     its port: ingress and viewers' RTCP the server read too slowly);
//   - the generator's own UDP sockets' receive drops (/proc/net/udp
//     "drops" of the sockets this process holds): a server that sent a
//     packet whose viewer could not take it. Not the machine-wide
//     RcvbufErrors: on a shared machine other processes' sockets drop
//     too (319 524 in one 50-viewer window with no loss of ours);
//   - send-buffer errors and softnet backlog drops (a burst that outran
//     the kernel before any socket saw it).
type dropMark struct {
	metricsOK            bool // the server's /metrics answered
	queue, egressErrors  float64
	serverSocket, rcvbuf uint64
	sndbuf, softnet      uint64
	retransmitted, nacks float64
}

// Drops is what a window lost where; see dropMark.
type Drops struct {
	// ServerQueue: packets the server dropped for a full viewer queue.
	// It and the other server counts are -1 when /metrics did not answer.
	ServerQueue float64 `json:"serverQueue"`
	// EgressErrors: the server's failed direct-path sends.
	EgressErrors float64 `json:"egressErrors"`
	// ServerSocket: datagrams the kernel dropped at the server's media
	// socket (its receive buffer was full).
	ServerSocket uint64 `json:"serverSocket"`
	// GeneratorSockets: datagrams dropped at the generator's own UDP
	// sockets' receive buffers (its viewers' and publishers').
	GeneratorSockets uint64 `json:"generatorSockets"`
	SndbufErrors     uint64 `json:"sndbufErrors"`
	Softnet          uint64 `json:"softnet"`
	// Retransmitted and NACKs: the server's repair work in the window.
	Retransmitted float64 `json:"retransmitted"`
	NACKs         float64 `json:"nacksReceived"`
}

// droppedPackets is the server's counter of packets dropped for full
// viewer queues.
const droppedPackets = "seatsfu_dropped_packets_total"

func markDrops(srv Server) dropMark {
	var m dropMark
	var err error
	m.queue, err = srv.Metric(droppedPackets)
	m.metricsOK = err == nil
	m.egressErrors, _ = srv.Metric("seatsfu_egress_errors_total")
	m.retransmitted, _ = srv.Metric("seatsfu_retransmitted_packets_total")
	m.nacks, _ = srv.Metric("seatsfu_nacks_received_total")
	if srv.UDPPort != 0 {
		m.serverSocket, _ = proc.UDPPortDrops(srv.UDPPort)
	}
	m.rcvbuf, _ = ownUDPDrops()
	m.sndbuf, _ = udpSndbufErrors()
	m.softnet, _ = proc.SoftnetDrops()
	return m
}

// dropsSince is what was dropped between a and b.
func dropsSince(a, b dropMark) Drops {
	d := Drops{
		ServerQueue:   b.queue - a.queue,
		EgressErrors:  b.egressErrors - a.egressErrors,
		ServerSocket:  sub(b.serverSocket, a.serverSocket),
		SndbufErrors:  sub(b.sndbuf, a.sndbuf),
		Softnet:       sub(b.softnet, a.softnet),
		Retransmitted: b.retransmitted - a.retransmitted,
		NACKs:         b.nacks - a.nacks,
	}
	d.GeneratorSockets = sub(b.rcvbuf, a.rcvbuf)
	if !a.metricsOK || !b.metricsOK {
		// A starved server that did not answer: its counts are unknown,
		// not negative.
		d.ServerQueue, d.EgressErrors, d.Retransmitted, d.NACKs = -1, -1, -1, -1
	}
	return d
}

func sub(b, a uint64) uint64 {
	if b < a {
		return 0
	}
	return b - a
}

// ownUDPDrops sums /proc/net/udp's and udp6's "drops" column over the UDP
// sockets this process holds open (matched by inode through /proc/self/fd).
func ownUDPDrops() (uint64, error) {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, err
	}
	mine := make(map[string]bool, len(fds))
	for _, fd := range fds {
		link, err := os.Readlink("/proc/self/fd/" + fd.Name())
		if err == nil && strings.HasPrefix(link, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var sum uint64
	for _, f := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		sum += udpDropsOf(string(b), mine)
	}
	return sum, nil
}

// udpDropsOf sums the drops of the sockets in a /proc/net/udp table whose
// inode is in inodes.
func udpDropsOf(table string, inodes map[string]bool) uint64 {
	var sum uint64
	for i, line := range strings.Split(strings.TrimSpace(table), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 13 || !inodes[f[9]] {
			continue
		}
		if d, err := strconv.ParseUint(f[len(f)-1], 10, 64); err == nil {
			sum += d
		}
	}
	return sum
}

// udpSndbufErrors reads /proc/net/snmp's Udp SndbufErrors.
func udpSndbufErrors() (uint64, error) {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0, err
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "SndbufErrors" && i < len(f) {
				return strconv.ParseUint(f[i], 10, 64)
			}
		}
	}
	return 0, nil
}
