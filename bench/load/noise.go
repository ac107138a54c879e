package load

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/seatsfu/seatsfu/bench/proc"
)

// noiseMark is what the machine had spent at one edge of a measuring
// window, so the window's noise — CPU other processes took — can be
// reported beside its figures instead of the window being discarded.
type noiseMark struct {
	machine proc.Machine
	cores   proc.Cores
	procs   proc.Procs
	server  time.Duration // the server process's CPU
	gen     time.Duration // this (generator) process's CPU
}

func markNoise(srv Server, server time.Duration) noiseMark {
	m := noiseMark{server: server}
	m.machine, _ = proc.ReadMachine()
	m.cores, _ = proc.ReadCores()
	m.procs, _ = proc.ReadProcs()
	if u, err := proc.ReadUsage(os.Getpid()); err == nil {
		m.gen = u.CPU
	}
	return m
}

// busiestShown is how many other processes a result names.
const busiestShown = 3

// noise fills res's noise figures for the window a..b of secs seconds.
func (res *Result) noise(srv Server, a, b noiseMark, secs float64) {
	pct := func(d time.Duration) float64 { return max(0, 100*d.Seconds()/secs) }
	server, gen := b.server-a.server, b.gen-a.gen
	res.GeneratorCPUPct = pct(gen)
	res.SoftIRQPct = pct(b.machine.SoftIRQ - a.machine.SoftIRQ)
	other := b.machine.Busy - a.machine.Busy - gen
	if !srv.InProcess {
		other -= server
	}
	res.OtherCPUPct = pct(other)
	res.OtherServerCorePct, res.ServerCoreSoftIRQPct = -1, -1
	if srv.CorePinned && srv.Core >= 0 && srv.Core < min(len(a.cores), len(b.cores)) {
		res.ServerCoreSoftIRQPct = pct(b.cores[srv.Core].SoftIRQ - a.cores[srv.Core].SoftIRQ)
	}
	if srv.CorePinned && !srv.InProcess && a.cores != nil && b.cores != nil {
		// The server is pinned there, so all its CPU is on that core; the
		// rest of the core's busy time went to other processes (softirq
		// is counted apart, in SoftIRQPct).
		res.OtherServerCorePct = pct(b.cores.Busy(srv.Core) - a.cores.Busy(srv.Core) - server)
	}
	exclude := []int{os.Getpid()}
	if !srv.InProcess {
		exclude = append(exclude, srv.PID)
	}
	res.OtherBusiest = nil
	for _, p := range proc.Busiest(a.procs, b.procs, busiestShown, time.Duration(0.01*secs*float64(time.Second)), exclude...) {
		res.OtherBusiest = append(res.OtherBusiest, fmt.Sprintf("%s %.0f%%", p.Comm, pct(p.CPU)))
	}
}

// OtherSummary is the window's noise in one cell: other processes' CPU on
// the server's core / on the whole machine, then the busiest of them.
func (res *Result) OtherSummary() string {
	core := "–"
	if res.OtherServerCorePct >= 0 {
		core = fmt.Sprintf("%.0f", res.OtherServerCorePct)
	}
	s := fmt.Sprintf("%s / %.0f", core, res.OtherCPUPct)
	if len(res.OtherBusiest) > 0 {
		s += " (" + strings.Join(res.OtherBusiest, ", ") + ")"
	}
	return s
}
