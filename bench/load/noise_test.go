package load

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/bench/proc"
)

// The noise rule measures instead of discarding: over a 10 s window the
// server (pid 100, pinned to core 1) used 6 s, the generator (this
// process) 8 s, and core 1 was busy 9 s — so other processes took 3 s of
// the server's core (30 %); the machine was busy 20 s in all, so others
// took 6 s (60 %). The busiest others are named; the server and the
// generator never are.
func TestNoiseIsMeasuredBesideTheWindow(t *testing.T) {
	s := time.Second
	self := os.Getpid()
	a := noiseMark{
		machine: proc.Machine{Busy: 100 * s, SoftIRQ: 5 * s},
		cores:   proc.Cores{{Busy: 50 * s}, {Busy: 50 * s, SoftIRQ: 3 * s}},
		procs:   proc.Procs{100: {PID: 100, Comm: "seatsfu", CPU: s}, self: {PID: self, Comm: "seatbench", CPU: s}, 7: {PID: 7, Comm: "go", CPU: 10 * s}},
		server:  s, gen: s,
	}
	b := noiseMark{
		machine: proc.Machine{Busy: 120 * s, SoftIRQ: 7 * s},
		cores:   proc.Cores{{Busy: 61 * s}, {Busy: 59 * s, SoftIRQ: 4500 * time.Millisecond}},
		procs:   proc.Procs{100: {PID: 100, Comm: "seatsfu", CPU: 7 * s}, self: {PID: self, Comm: "seatbench", CPU: 9 * s}, 7: {PID: 7, Comm: "go", CPU: 14 * s}, 8: {PID: 8, Comm: "compile", CPU: 2 * s}},
		server:  7 * s, gen: 9 * s,
	}
	srv := Server{Name: "seatsfu", PID: 100, Core: 1, CorePinned: true}
	var r Result
	r.noise(srv, a, b, 10)
	if r.OtherServerCorePct != 30 || r.OtherCPUPct != 60 || r.GeneratorCPUPct != 80 || r.SoftIRQPct != 20 {
		t.Fatalf("noise: server core %.1f%%, all %.1f%%, generator %.1f%%, softirq %.1f%%", r.OtherServerCorePct, r.OtherCPUPct, r.GeneratorCPUPct, r.SoftIRQPct)
	}
	if r.ServerCoreSoftIRQPct != 15 {
		t.Fatalf("softirq on the server's core %.1f%%, want 15", r.ServerCoreSoftIRQPct)
	}
	if len(r.OtherBusiest) != 2 || r.OtherBusiest[0] != "go 40%" || r.OtherBusiest[1] != "compile 20%" {
		t.Fatalf("busiest %v", r.OtherBusiest)
	}
	if got := r.OtherSummary(); got != "30 / 60 (go 40%, compile 20%)" {
		t.Fatalf("summary %q", got)
	}

	// Unpinned, or in the generator's process: the server-core figure is
	// unknown, not zero, and an in-process server is not subtracted twice.
	srv.CorePinned = false
	r.noise(srv, a, b, 10)
	if r.OtherServerCorePct != -1 || r.ServerCoreSoftIRQPct != -1 || !strings.HasPrefix(r.OtherSummary(), "– / 60") {
		t.Fatalf("unpinned: %.1f %q", r.OtherServerCorePct, r.OtherSummary())
	}
	srv = Server{Name: "raw", PID: self, InProcess: true, CorePinned: true}
	r.noise(srv, a, b, 10)
	if r.OtherServerCorePct != -1 || r.OtherCPUPct != 120 {
		t.Fatalf("in-process: core %.1f, all %.1f", r.OtherServerCorePct, r.OtherCPUPct)
	}
}
