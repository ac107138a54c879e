package impair

import (
	"net"
	"strings"
	"testing"
)

const answer = "v=0\r\n" +
	"o=- 1 2 IN IP4 0.0.0.0\r\n" +
	"s=-\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=candidate:1 1 udp 2130706431 10.0.0.5 40000 typ host\r\n" +
	"a=candidate:2 1 udp 2130706431 127.0.0.1 40001 typ host\r\n" +
	"a=candidate:3 1 tcp 1671430143 10.0.0.5 9 typ host tcptype passive\r\n" +
	"a=candidate:4 1 udp 1694498815 203.0.113.7 50000 typ srflx raddr 10.0.0.5 rport 40000\r\n" +
	"a=end-of-candidates\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" +
	"a=candidate:1 1 udp 2130706431 10.0.0.5 40000 typ host generation 0\r\n" +
	"a=candidate:bad\r\n"

func TestRewriteCandidates(t *testing.T) {
	relay := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}
	got := RewriteCandidates(answer, relay)
	want := "v=0\r\n" +
		"o=- 1 2 IN IP4 0.0.0.0\r\n" +
		"s=-\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" +
		"c=IN IP4 0.0.0.0\r\n" +
		"a=candidate:1 1 udp 2130706431 127.0.0.1 5555 typ host\r\n" +
		"a=end-of-candidates\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" +
		"a=candidate:1 1 udp 2130706431 127.0.0.1 5555 typ host generation 0\r\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	// LF-only SDP keeps LF.
	lf := RewriteCandidates(strings.ReplaceAll(answer, "\r\n", "\n"), relay)
	if strings.Contains(lf, "\r") || lf != strings.ReplaceAll(want, "\r\n", "\n") {
		t.Fatalf("LF SDP:\n%s", lf)
	}
}

func TestStripAndHostCandidate(t *testing.T) {
	addr, ok := HostCandidate(answer)
	if !ok || addr.String() != "10.0.0.5:40000" {
		t.Fatalf("HostCandidate = %v %v", addr, ok)
	}
	s := StripCandidates(answer)
	if strings.Contains(s, "candidate") {
		t.Fatalf("candidates left:\n%s", s)
	}
	if !strings.Contains(s, "m=video 9") || !strings.HasSuffix(s, "\r\n") {
		t.Fatalf("other lines damaged:\n%s", s)
	}
	if _, ok := HostCandidate(s); ok {
		t.Fatal("host candidate in a stripped SDP")
	}
}

// FuzzSDP: the candidate helpers never panic, only ever emit the relay's
// address in candidates, and are idempotent.
func FuzzSDP(f *testing.F) {
	f.Add(answer)
	f.Add("a=candidate:1 1 UDP 1 ::1 70000 typ host\n")
	relay := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}
	f.Fuzz(func(t *testing.T, sdp string) {
		out := RewriteCandidates(sdp, relay)
		if again := RewriteCandidates(out, relay); again != out {
			t.Fatal("not idempotent")
		}
		if addr, ok := HostCandidate(out); ok && addr.String() != relay.String() {
			t.Fatalf("host candidate %v survived", addr)
		}
		StripCandidates(sdp)
	})
}
