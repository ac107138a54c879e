package impair

import (
	"net"
	"strconv"
	"strings"
)

// RewriteCandidates points an SDP's ICE candidates at the relay: in each media
// section the first UDP host candidate of each component gets the relay's
// address and port, and every other candidate (TCP, further interfaces,
// server-reflexive, relayed) is removed, since any of them would let ICE
// bypass the relay; so are malformed candidate lines. Give the result (typically the server's answer) to the
// client; the server then sees the relay's upstream socket as a
// peer-reflexive candidate. Lines that are not candidates pass unchanged.
func RewriteCandidates(sdp string, relay *net.UDPAddr) string {
	lines, eol := splitSDP(sdp)
	out := make([]string, 0, len(lines))
	kept := map[string]bool{} // component ids already rewritten in this section
	for _, line := range lines {
		if strings.HasPrefix(line, "m=") {
			clear(kept)
		}
		if !strings.HasPrefix(line, candidatePrefix) {
			out = append(out, line)
			continue
		}
		f, ok := parseCandidate(line)
		if !ok || !f.udpHost() || kept[f.fields[1]] {
			continue
		}
		kept[f.fields[1]] = true
		f.fields[4] = relay.IP.String()
		f.fields[5] = strconv.Itoa(relay.Port)
		out = append(out, f.prefix+strings.Join(f.fields, " "))
	}
	return strings.Join(out, eol)
}

// StripCandidates removes every candidate (and end-of-candidates) line, so
// the receiving agent can only learn its peer from the connectivity checks
// that reach it, i.e. through the relay.
func StripCandidates(sdp string) string {
	lines, eol := splitSDP(sdp)
	out := lines[:0]
	for _, line := range lines {
		if strings.HasPrefix(line, candidatePrefix) || strings.HasPrefix(line, "a=end-of-candidates") {
			continue
		}
		out = append(out, line)
	}
	return strings.Join(out, eol)
}

// HostCandidate returns the address of the SDP's first UDP host candidate:
// the target to put a relay in front of.
func HostCandidate(sdp string) (*net.UDPAddr, bool) {
	lines, _ := splitSDP(sdp)
	for _, line := range lines {
		f, ok := parseCandidate(line)
		if !ok || !f.udpHost() {
			continue
		}
		ip := net.ParseIP(f.fields[4])
		port, err := strconv.Atoi(f.fields[5])
		if ip == nil || err != nil || port <= 0 || port > 65535 {
			continue
		}
		return &net.UDPAddr{IP: ip, Port: port}, true
	}
	return nil, false
}

func splitSDP(sdp string) (lines []string, eol string) {
	eol = "\n"
	if strings.Contains(sdp, "\r\n") {
		eol = "\r\n"
	}
	return strings.Split(strings.ReplaceAll(sdp, "\r\n", "\n"), "\n"), eol
}

// candidateLine is "a=candidate:" + foundation component transport priority
// address port "typ" type [extensions...] (RFC 8839 §5.1).
type candidateLine struct {
	prefix string
	fields []string
}

const candidatePrefix = "a=candidate:"

func parseCandidate(line string) (candidateLine, bool) {
	if !strings.HasPrefix(line, candidatePrefix) {
		return candidateLine{}, false
	}
	fields := strings.Fields(line[len(candidatePrefix):])
	if len(fields) < 8 || fields[6] != "typ" {
		return candidateLine{}, false
	}
	return candidateLine{prefix: candidatePrefix, fields: fields}, true
}

func (c candidateLine) udpHost() bool {
	return strings.EqualFold(c.fields[2], "udp") && c.fields[7] == "host"
}
