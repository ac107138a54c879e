package nettest

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/internal/impair"
	"github.com/seatsfu/seatsfu/sfu"
)

// A viewer on ICE-TCP whose link stops draining (its TCP window shut, as
// behind a stalled mobile link) loses packets at its own queue. Those are
// its link's losses, not the node's: a node with an egress budget must not
// count itself behind for them, refuse newcomers or learn a ceiling
// (PROTOCOL.md §3). When the link drains again the viewer gets media
// again, its TCP framing intact.
func TestAStalledTCPViewerDoesNotMakeTheNodeBehind(t *testing.T) {
	s, r, reg := serverWith(t, sfu.Config{IPs: []string{"127.0.0.1"}, ICETCP: true,
		Overload: sfu.Overload{EgressBudget: 1_000_000}})
	relay, err := impair.NewTCP(s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = relay.Close() })
	startPublisher(t, r, direct, 3, 50)
	v := startRestrictedViewerVia(t, r, []webrtc.NetworkType{webrtc.NetworkTypeTCP4}, nil,
		func(answer string) string { return withTCPPort(answer, relay.Addr().Port) })
	receivesMedia(t, v)

	relay.Stall(true)
	const slowLink = "seatsfu_dropped_packets_slow_link_total"
	eventually(t, 20*time.Second, "drops on the stalled link", func() bool { return metric(t, reg, slowLink) > 0 })
	// The sampler reads a window a second: let two more pass with the link
	// dropping all it is offered. Counted as the node's, that is all of
	// what its one viewer was due, a hundred times the behind share.
	first := metric(t, reg, slowLink)
	time.Sleep(2500 * time.Millisecond)
	if got := metric(t, reg, slowLink); got <= first {
		t.Fatalf("the stalled link dropped nothing more in 2.5 s (%v, then %v)", first, got)
	}
	if metric(t, reg, "seatsfu_viewer_transport_tcp_dropped_packets_total") == 0 {
		t.Fatal("no ICE-TCP write timed out on the stalled link")
	}
	if b, c := metric(t, reg, "seatsfu_egress_behind"), metric(t, reg, "seatsfu_egress_ceiling_packets_per_second"); b != 0 || c != 0 {
		t.Fatalf("a stalled viewer made the node behind (%v) or taught it a ceiling (%v)", b, c)
	}
	late, _ := startViewer(t, r, "late", direct, nil) // fails the test if refused
	eventually(t, 10*time.Second, "the newcomer's media", func() bool { return late.count() >= 100 })
	if n := labelled(t, reg, "seatsfu_shed_total", "what", "subscribers"); n != 0 {
		t.Fatalf("%v subscribers refused beside a stalled viewer", n)
	}

	relay.Stall(false)
	before := v.video.Load()
	eventually(t, 15*time.Second, "media on the drained link", func() bool { return v.video.Load() >= before+100 })
}

// withTCPPort points the ICE-TCP candidates of an SDP at port.
func withTCPPort(sdp string, port int) string {
	lines := strings.SplitAfter(sdp, "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) > 5 && strings.HasPrefix(f[0], "a=candidate:") && strings.EqualFold(f[2], "tcp") {
			f[5] = strconv.Itoa(port)
			lines[i] = strings.Join(f, " ") + "\r\n"
		}
	}
	return strings.Join(lines, "")
}
