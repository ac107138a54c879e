package sfu

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/seat"
)

// The direct path reads three private fields of the pinned Pion's
// DTLSTransport (egress_keys.go). A Pion upgrade that moves them must fail
// here, not as viewers silently falling back to the slow path.
func TestDTLSTransportLayout(t *testing.T) {
	if _, err := dtlsLayout(); err != nil {
		t.Fatal(err)
	}
}

// A Pion client decrypts what the direct path sent: the keys taken from
// the DTLS handshake are the connection's. Media arrives, and the metrics
// say it went the direct way.
func TestDirectEgressCarriesTheMedia(t *testing.T) {
	s := newTestSFU(t)
	r, _ := openTestRoom(t, s, 2, seat.ModeFree)
	api := clientAPI(t)
	startPublisher(t, r, api, "owner", 'O')
	v := startViewer(t, r, api, "viewer", 1, true)
	a0, v0 := v.mid(t, 0, "audio"), v.mid(t, 0, "video")
	m := s.egress.m
	eventually(t, 10*time.Second, "the viewer on the direct path", func() bool { return gaugeValue(t, m.direct) == 1 })
	// An AEAD profile was negotiated, so the SFU's own sealer (not
	// pion/srtp's Context) seals what the client decrypts below.
	r.mu.Lock()
	for x := range r.viewers {
		x.eg.mu.Lock()
		sealed := x.eg.sealer != nil
		x.eg.mu.Unlock()
		if !sealed {
			t.Error("the direct viewer has no AEAD sealer")
		}
	}
	r.mu.Unlock()
	// From the switch on, every RTP packet to the viewer goes the direct
	// way: the client keeps decrypting media while Pion's path sends none.
	// (Comparing the two counts instead would race: a packet sent before
	// one is read can arrive after the other is.)
	before, pionBefore := counterValue(t, m.packets[egressDirect]), counterValue(t, m.packets[egressPion])
	got := v.count(a0) + v.count(v0)
	eventually(t, 10*time.Second, "media decrypted by the client after the switch", func() bool {
		return v.count(a0)+v.count(v0) >= got+40 && counterValue(t, m.packets[egressDirect]) >= before+40
	})
	if d := counterValue(t, m.packets[egressPion]) - pionBefore; d != 0 {
		t.Errorf("%v packets went through Pion after the viewer went direct", d)
	}
	if n := counterValue(t, m.batches); n == 0 {
		t.Error("no sendmmsg batch counted")
	}
	if e := counterValue(t, m.errors); e != 0 {
		t.Errorf("egress errors = %v", e)
	}
	for _, p := range v.packets(v0) {
		if p.tag != 'O' {
			t.Fatalf("seat 0 carried tag %q", p.tag)
		}
	}
}

// With --egress-direct off every packet goes through Pion, and is counted
// so.
func TestPionEgressWhenDirectIsOff(t *testing.T) {
	s := newTestSFUWith(t, func(c *Config) { c.PionEgress = true })
	r, _ := openTestRoom(t, s, 2, seat.ModeFree)
	api := clientAPI(t)
	startPublisher(t, r, api, "owner", 'O')
	v := startViewer(t, r, api, "viewer", 1, true)
	v0 := v.mid(t, 0, "video")
	eventually(t, 10*time.Second, "media through Pion", func() bool { return v.count(v0) >= 20 })
	m := s.egress.m
	if d := counterValue(t, m.packets[egressDirect]); d != 0 {
		t.Errorf("direct packets = %v with the direct path off", d)
	}
	if p := counterValue(t, m.packets[egressPion]); p < 20 {
		t.Errorf("pion packets = %v, want ≥ 20", p)
	}
	if g := gaugeValue(t, m.direct); g != 0 {
		t.Errorf("direct viewers = %v", g)
	}
}

// The direct path follows the selected candidate pair: a pair it cannot
// take (here an ICE-TCP one) hands the viewer back to Pion's path with no
// gap the client notices, and the host-UDP pair coming back takes it
// direct again — both encryptors of the viewer's SSRCs staying in step.
func TestDirectEgressFollowsTheSelectedPair(t *testing.T) {
	s := newTestSFUWith(t, func(c *Config) { c.ViewerTransport = ViewerTransportPion }) // Pion's pairs
	r, _ := openTestRoom(t, s, 2, seat.ModeFree)
	api := clientAPI(t)
	startPublisher(t, r, api, "owner", 'O')
	tv := startViewer(t, r, api, "viewer", 1, true)
	v0 := tv.mid(t, 0, "video")
	m := s.egress.m
	eventually(t, 10*time.Second, "the viewer on the direct path", func() bool { return gaugeValue(t, m.direct) == 1 })
	var v *viewer
	r.mu.Lock()
	for x := range r.viewers {
		v = x
	}
	r.mu.Unlock()
	pair, err := v.peer.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		t.Fatalf("selected pair: %v %v", pair, err)
	}
	received := func(more int) func() bool {
		n := tv.count(v0)
		return func() bool { return tv.count(v0) >= n+more }
	}

	eventually(t, 10*time.Second, "media direct", received(10))
	from := tv.count(v0) // the start-up's losses are not the switches'
	tcp := *pair.Local
	tcp.Protocol = webrtc.ICEProtocolTCP
	v.eg.pairChanged(webrtc.NewICECandidatePair(&tcp, pair.Remote))
	if gaugeValue(t, m.direct) != 0 || v.eg.isDirect() {
		t.Fatal("still direct on an ICE-TCP pair")
	}
	pion := counterValue(t, m.packets[egressPion])
	eventually(t, 10*time.Second, "media through Pion", received(30))
	if got := counterValue(t, m.packets[egressPion]) - pion; got < 30 {
		t.Errorf("%v packets through Pion while on the TCP pair, want ≥ 30", got)
	}

	v.eg.pairChanged(pair)
	if gaugeValue(t, m.direct) != 1 {
		t.Fatal("not direct again on the host-UDP pair")
	}
	direct := counterValue(t, m.packets[egressDirect])
	eventually(t, 10*time.Second, "media direct again", received(30))
	if got := counterValue(t, m.packets[egressDirect]) - direct; got < 30 {
		t.Errorf("%v packets direct after the pair came back, want ≥ 30", got)
	}
	// The stream the client decrypted is one unbroken sequence: nothing
	// lost or refused by its SRTP across both switches.
	ps := tv.packets(v0)[from-1:]
	gaps := 0
	for i := 1; i < len(ps); i++ {
		if ps[i].seq != ps[i-1].seq+1 {
			gaps++
		}
	}
	if gaps > 0 {
		t.Errorf("%d sequence gaps in %d video packets across the path switches", gaps, len(ps))
	}
}
