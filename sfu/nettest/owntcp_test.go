package nettest

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/seatsfu/seatsfu/sfu"
)

// The default configuration's viewer transport (auto: the SFU's own, with
// ICE-TCP on and TURN off) serves a viewer whose network blocks UDP over
// the shared ICE-TCP port, while the publisher stays on Pion's UDP.
func TestOwnTransportViewerWithoutUDPReceivesOverICETCP(t *testing.T) {
	s, r, reg := serverWith(t, sfu.Config{IPs: []string{"127.0.0.1"}, ICETCP: true})
	receivesOverICETCP(t, s, r)
	if n, err := testutil.GatherAndCount(reg, "seatsfu_viewer_transport_own_viewers"); err != nil || n != 1 {
		t.Fatalf("own-transport gauge: %d series, %v", n, err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "seatsfu_viewer_transport_own_viewers" && mf.GetMetric()[0].GetGauge().GetValue() != 1 {
			t.Fatalf("%v viewers on the own transport, want the one", mf.GetMetric()[0].GetGauge().GetValue())
		}
	}
}
