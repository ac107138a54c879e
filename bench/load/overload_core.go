package load

import (
	"sync"
	"time"

	"github.com/seatsfu/seatsfu/bench/proc"
)

// The server's core, second by second, through an overload phase. One
// gradual run dropped 696k packets in its window while the server's own
// process used 55 % of its core (bench/README.md, session 6), so the
// process's CPU is not all that bounds its writers here. The candidates
// are time the core spent on work no process is charged with: softirq (on
// loopback, the kernel delivering what the server sends runs on the
// sender's core and lands in /proc/stat's softirq column, not in the
// server's own CPU) and steal (the hypervisor giving the core to another
// machine). This records all three beside the queue drops per second.

// CoreSecond is one second of the server's core, each a percentage of it.
type CoreSecond struct {
	ServerPct  float64 `json:"serverCpuPercent"` // the server process, user + system
	SoftIRQPct float64 `json:"softirqPercent"`   // the core's softirq time
	StealPct   float64 `json:"stealPercent"`     // taken by the hypervisor
	BusyPct    float64 `json:"busyPercent"`      // every process on the core, irq included
}

// coreTimeline samples the server's core and process once a second.
type coreTimeline struct {
	pid, core int
	stop      chan struct{}
	done      chan struct{}

	mu   sync.Mutex
	secs []CoreSecond
}

// coreSample is one reading of the core's and the process's counters.
type coreSample struct {
	at     time.Time
	core   proc.Machine
	server time.Duration
}

// startCoreTimeline samples core and pid until stop; nil when the server
// is not pinned to a core (its core's counters would mean nothing).
func startCoreTimeline(pid, core int) *coreTimeline {
	if pid <= 0 || core < 0 {
		return nil
	}
	t := &coreTimeline{pid: pid, core: core, stop: make(chan struct{}), done: make(chan struct{})}
	go t.run()
	return t
}

func (t *coreTimeline) read() (coreSample, bool) {
	cs, err := proc.ReadCores()
	if err != nil || t.core >= len(cs) {
		return coreSample{}, false
	}
	u, err := proc.ReadUsage(t.pid)
	if err != nil {
		return coreSample{}, false
	}
	return coreSample{at: time.Now(), core: cs[t.core], server: u.CPU}, true
}

func (t *coreTimeline) run() {
	defer close(t.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	prev, ok := t.read()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
		}
		cur, now := t.read()
		if ok && now {
			t.mu.Lock()
			t.secs = append(t.secs, second(prev, cur))
			t.mu.Unlock()
		}
		prev, ok = cur, now
	}
}

// second is what the core did between two readings.
func second(a, b coreSample) CoreSecond {
	el := b.at.Sub(a.at)
	pct := func(d time.Duration) float64 {
		if el <= 0 {
			return 0
		}
		return 100 * d.Seconds() / el.Seconds()
	}
	return CoreSecond{
		ServerPct:  pct(b.server - a.server),
		SoftIRQPct: pct(b.core.SoftIRQ - a.core.SoftIRQ),
		StealPct:   pct(b.core.Steal - a.core.Steal),
		BusyPct:    pct(b.core.Busy - a.core.Busy),
	}
}

// end stops the sampling and returns the seconds recorded.
func (t *coreTimeline) end() []CoreSecond {
	if t == nil {
		return nil
	}
	close(t.stop)
	<-t.done
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.secs
}
