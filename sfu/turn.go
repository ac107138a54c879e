package sfu

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // TURN REST credentials are HMAC-SHA1 by definition
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/pion/turn/v5"
)

// The embedded TURN server (PROTOCOL.md §9) relays for clients whose
// network lets nothing but a TURN server through. Credentials follow the
// TURN REST scheme browsers and every TURN server understand: the username
// is "<expiry unix>:<user>", the password the base64 HMAC-SHA1 of the
// username under a key only the server knows. The key is derived from the
// token secret, so whoever could mint a token could mint the credentials and
// nobody else; the expiry is the token's, so a credential dies with the
// token it came from. The relay only lets peers talk to this host's own
// addresses: a token holder gets a way to reach the SFU, not an open relay.

// turnRealm is the realm of the long-term credentials (RFC 8489 §9.2).
const turnRealm = "seatsfu"

// ICEServer is one entry of the snapshot's rtc.iceServers: a
// RTCIceServer as browsers take it.
type ICEServer struct {
	URLs       []string
	Username   string
	Credential string
}

type turnServer struct {
	srv  *turn.Server
	key  string
	port int
	// peers are the only addresses relays may send to: this host's.
	peers map[string]bool
	// max is the most allocations one user may hold at once (each is a
	// socket of this host): a token must not buy unlimited relays.
	max     int
	mu      sync.Mutex
	perUser map[string]int
	m       *metrics
}

// defaultTURNMaxAllocations is Config.TURNMaxAllocations's default: a
// browser needs one per ICE transport it relays (two peer connections,
// UDP and TCP each), and reconnecting ones leave some behind for a while.
const defaultTURNMaxAllocations = 8

// turnKey derives the TURN credential key from the token secret.
func turnKey(secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("seatsfu turn credentials v1"))
	return base64.RawStdEncoding.EncodeToString(m.Sum(nil))
}

// startTURN listens for TURN on UDP and TCP at cfg.TURNPort (0: a free port
// number, the same for both) and relays from relayIP.
func startTURN(cfg Config, relayIP net.IP, hostIPs []net.IP, m *metrics, log *slog.Logger) (*turnServer, error) {
	if len(cfg.TURNSecret) == 0 {
		return nil, errors.New("sfu: TURN needs a credential secret")
	}
	udp, tcp, err := listenBoth(cfg.ListenIP, cfg.TURNPort)
	if err != nil {
		return nil, fmt.Errorf("sfu: TURN port: %w", err)
	}
	ts := &turnServer{key: turnKey(cfg.TURNSecret), port: udp.LocalAddr().(*net.UDPAddr).Port, peers: map[string]bool{},
		max: cfg.TURNMaxAllocations, perUser: map[string]int{}, m: m}
	if ts.max <= 0 {
		ts.max = defaultTURNMaxAllocations
	}
	for _, ip := range hostIPs {
		ts.peers[ip.String()] = true
	}
	ts.peers[relayIP.String()] = true
	listen := cfg.ListenIP
	if listen == "" {
		listen = "0.0.0.0"
	}
	gen := func() *turn.RelayAddressGeneratorStatic {
		return &turn.RelayAddressGeneratorStatic{RelayAddress: relayIP, Address: listen}
	}
	factory := slogFactory{log: log}
	ts.srv, err = turn.NewServer(turn.ServerConfig{
		Realm:             turnRealm,
		LoggerFactory:     factory,
		AuthHandler:       turn.LongTermTURNRESTAuthHandler(ts.key, factory.NewLogger("turn")),
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: udp, RelayAddressGenerator: gen(), PermissionHandler: ts.permit}},
		ListenerConfigs:   []turn.ListenerConfig{{Listener: tcp, RelayAddressGenerator: gen(), PermissionHandler: ts.permit}},
		QuotaHandler:      ts.quota,
		EventHandler: turn.EventHandler{
			// The event's protocol is the relayed one (always UDP);
			// the client's address tells how it reached us.
			OnAllocationCreated: func(src, _ net.Addr, _, user, _ string, _ net.Addr, _ int) {
				transport := "udp"
				if _, ok := src.(*net.TCPAddr); ok {
					transport = "tcp"
				}
				m.turnAllocations.WithLabelValues(transport).Inc()
				ts.count(user, +1)
			},
			OnAllocationDeleted: func(_, _ net.Addr, _, user, _ string) { ts.count(user, -1) },
		},
	})
	if err != nil {
		_ = udp.Close()
		_ = tcp.Close()
		return nil, fmt.Errorf("sfu: TURN: %w", err)
	}
	return ts, nil
}

// quota refuses a user's allocation beyond max.
func (ts *turnServer) quota(user, _ string, _ net.Addr) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.perUser[user] >= ts.max {
		ts.m.turnRefused.Inc()
		return false
	}
	return true
}

func (ts *turnServer) count(user string, d int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if n := ts.perUser[user] + d; n > 0 {
		ts.perUser[user] = n
	} else {
		delete(ts.perUser, user)
	}
}

// permit lets a relay send only to this host's addresses.
func (ts *turnServer) permit(_ net.Addr, peer net.IP) bool { return ts.peers[peer.String()] }

// credentials mints the TURN REST username and password for user, valid
// until expires.
func (ts *turnServer) credentials(user string, expires time.Time) (string, string) {
	username := strconv.FormatInt(expires.Unix(), 10) + ":" + user
	m := hmac.New(sha1.New, []byte(ts.key))
	m.Write([]byte(username))
	return username, base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func (ts *turnServer) close() error { return ts.srv.Close() }

// listenBoth binds UDP and TCP on the same port number; port 0 tries free
// UDP ports until the TCP one of the same number is free too.
func listenBoth(ip string, port int) (*net.UDPConn, net.Listener, error) {
	addr := net.ParseIP(ip)
	for try := 0; ; try++ {
		udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: addr, Port: port})
		if err != nil {
			return nil, nil, err
		}
		p := udp.LocalAddr().(*net.UDPAddr).Port
		tcp, err := net.ListenTCP("tcp", &net.TCPAddr{IP: addr, Port: p})
		if err == nil {
			return udp, tcp, nil
		}
		_ = udp.Close()
		if port != 0 || try == 20 {
			return nil, nil, err
		}
	}
}

// ICEServers is what the snapshot's rtc.iceServers tells user: the embedded
// TURN server over UDP and TCP with credentials valid until expires (the
// token's expiry), or nothing when TURN is off. host is how the client
// reached this server (the WebSocket's host), used when no address is
// configured with Config.IPs.
func (s *SFU) ICEServers(user string, expires time.Time, host string) []ICEServer {
	if s.turn == nil {
		return nil
	}
	if len(s.cfg.IPs) > 0 {
		host = s.cfg.IPs[0]
	}
	if host == "" {
		host = s.relayIP.String()
	}
	hp := net.JoinHostPort(host, strconv.Itoa(s.turn.port))
	name, pass := s.turn.credentials(user, expires)
	return []ICEServer{{
		URLs:     []string{"turn:" + hp + "?transport=udp", "turn:" + hp + "?transport=tcp"},
		Username: name, Credential: pass,
	}}
}

// TURNAddr is the TURN server's port (UDP and TCP), 0 when TURN is off.
func (s *SFU) TURNPort() int {
	if s.turn == nil {
		return 0
	}
	return s.turn.port
}

// hostAddresses are the addresses of this host's interfaces plus the
// configured ones: what ICE advertises and what TURN may relay to.
func hostAddresses(cfg Config) []net.IP {
	var out []net.IP
	for _, ip := range cfg.IPs {
		out = append(out, net.ParseIP(ip))
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				out = append(out, n.IP)
			}
		}
	}
	return out
}

// relayAddress is the address a TURN allocation relays from: the first
// configured one, else the listen address, else the first non-loopback
// IPv4 address of this host, else loopback.
func relayAddress(cfg Config, host []net.IP) net.IP {
	if len(cfg.IPs) > 0 {
		return net.ParseIP(cfg.IPs[0])
	}
	if ip := net.ParseIP(cfg.ListenIP); ip != nil && !ip.IsUnspecified() {
		return ip
	}
	for _, ip := range host {
		if ip.To4() != nil && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
			return ip
		}
	}
	return net.IPv4(127, 0, 0, 1)
}
