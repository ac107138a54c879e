package sfu

import (
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/seatsfu/seatsfu/sfu/rtcconn"
)

// --handshakes reaches the own transport's gate (rtcconn/gate.go), and 0
// sizes it from GOMAXPROCS; seatsfu_handshakes_limit says which.
func TestHandshakeGateIsConfigured(t *testing.T) {
	for _, c := range []struct{ set, want int }{
		{7, 7},
		{0, rtcconn.DefaultHandshakesPerCore * runtime.GOMAXPROCS(0)},
	} {
		reg := prometheus.NewRegistry()
		s, err := New(Config{ListenIP: "127.0.0.1", Registerer: reg, Overload: Overload{Handshakes: c.set}})
		if err != nil {
			t.Fatal(err)
		}
		mfs, err := reg.Gather()
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		got := -1.0
		for _, mf := range mfs {
			if mf.GetName() == "seatsfu_handshakes_limit" {
				got = mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		if got != float64(c.want) {
			t.Fatalf("--handshakes %d: seatsfu_handshakes_limit %v, want %d", c.set, got, c.want)
		}
	}
}
