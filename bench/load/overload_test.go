package load

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// The overload scenario's mechanics at tiny scale, in process: the search
// steps up to its ceiling (two viewers, served cleanly: not saturated, so
// the ceiling is the count), then three viewers (1.5×) go at a node whose
// egress budget fits one and a half viewers: the first joins and keeps
// receiving, the rest are refused with overloaded and counted in
// seatsfu_shed_total{what="subscribers"}, and /metrics is scraped through.
// (Whether a real node meets the bounds is for seatbench overload on a
// pinned core, not for a test on a shared box.)
func TestSmokeOverloadSeatsfu(t *testing.T) {
	ctx := context.Background()
	// Bounds no step can miss: this checks the mechanics, and under -race
	// on a shared box two in-process viewers may lose a few percent.
	cfg := OverloadConfig{Config: Config{Guests: 1, Warmup: time.Second, Duration: 1500 * time.Millisecond}, Step: 2, MaxViewers: 2,
		LossLimit: 100, DeliveredMin: 0.01}

	env := signaltest.Start(t)
	tgt, err := NewSeatsfuTarget(ctx, Server{Name: "seatsfu", PID: os.Getpid(), BaseURL: env.URL, InProcess: true}, env.WSURL, env.Secret, "saturate", 4)
	if err != nil {
		t.Fatal(err)
	}
	sat, err := Saturate(ctx, tgt, cfg)
	_ = tgt.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("saturation: %+v", sat)
	if len(sat.Steps) != 1 || sat.Viewers != 2 || sat.Saturated || sat.PeakPPS <= 0 {
		t.Fatalf("saturation %+v, want one clean step of 2 viewers", sat)
	}

	perViewer := sat.Steps[0].ExpectedPPS / 2
	budget := int(1.5 * perViewer)
	env2 := signaltest.Start(t, signaltest.WithSFUConfig(func(c *sfu.Config) { c.Overload.EgressBudget = budget }))
	tgt2, err := NewSeatsfuTarget(ctx, Server{Name: "seatsfu", PID: os.Getpid(), BaseURL: env2.URL, InProcess: true}, env2.WSURL, env2.Secret, "overload", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer tgt2.Close()
	res, err := Overload(ctx, tgt2, cfg, sat, budget)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("overload: %+v", res)
	// The node prices a viewer by the ingress it measured, which a starved
	// generator's publishers can hold to three quarters of nominal: one or
	// two of the three fit, never none or all.
	if res.Attempted != 3 || res.Joined < 1 || res.Refused < 1 || res.Joined+res.Refused != 3 || res.Failed != 0 {
		t.Fatalf("%d attempted, %d joined, %d refused, %d failed (%v); want 3, some joined, the rest refused", res.Attempted, res.Joined, res.Refused, res.Failed, res.Errors)
	}
	if res.Shed["subscribers"] != float64(res.Refused) {
		t.Fatalf("shed_total{what=subscribers} grew by %v, want the %d refused (%v)", res.Shed["subscribers"], res.Refused, res.Shed)
	}
	if res.Window.DeliveredPPS < 0.5*perViewer {
		t.Fatalf("the joined viewer got %.0f pkt/s of %.0f", res.Window.DeliveredPPS, perViewer)
	}
	if res.MetricsScrapes < 4 || len(res.Checks) != 4 {
		t.Fatalf("%d /metrics scrapes, %d checks", res.MetricsScrapes, len(res.Checks))
	}
}

// The generator's drops are its own sockets' only: a socket of another
// process (inode not ours) that dropped datagrams does not count.
func TestUDPDropsOfOwnSocketsOnly(t *testing.T) {
	table := `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
   32: 0100007F:E9CC 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5057187 2 00000000222b6661 63
   33: 0100007F:E9CD 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5057188 2 00000000222b6662 1000
   34: 0100007F:E9CE 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5057189 2 00000000222b6663 7`
	if got := udpDropsOf(table, map[string]bool{"5057187": true, "5057189": true}); got != 70 {
		t.Fatalf("own drops %d, want 63 + 7", got)
	}
	if _, err := ownUDPDrops(); err != nil {
		t.Fatal(err)
	}
}
