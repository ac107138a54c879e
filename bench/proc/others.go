package proc

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// On a shared machine a benchmark window is never quiet; rather than throw
// noisy windows away (on two cores nearly every window is noisy), seatbench
// measures the noise and reports it beside each window: how much CPU other
// processes took on the server's own core — the time that competed with
// the server directly — and on the whole machine, and which processes took
// it.

// Cores is every core's busy and softirq time since boot, from /proc/stat's
// cpuN lines, indexed by core number.
type Cores []Machine

// ReadCores reads /proc/stat's per-core lines.
func ReadCores() (Cores, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil, err
	}
	return parseCores(string(b))
}

func parseCores(s string) (Cores, error) {
	var cs Cores
	for _, line := range strings.Split(s, "\n") {
		name, _, _ := strings.Cut(line, " ")
		if len(name) < 4 || !strings.HasPrefix(name, "cpu") {
			continue
		}
		n, err := strconv.Atoi(name[3:])
		if err != nil || n < 0 || n > 4096 {
			return nil, fmt.Errorf("proc: /proc/stat: bad core %q", name)
		}
		m, err := parseMachine("cpu" + line[len(name):])
		if err != nil {
			return nil, err
		}
		for len(cs) <= n {
			cs = append(cs, Machine{})
		}
		cs[n] = m
	}
	if len(cs) == 0 {
		return nil, errors.New("proc: /proc/stat has no per-core lines")
	}
	return cs, nil
}

// Busy is core's busy time, 0 for a core the machine does not have.
func (c Cores) Busy(core int) time.Duration {
	if core < 0 || core >= len(c) {
		return 0
	}
	return c[core].Busy
}

// ProcCPU is one process's own CPU time (not its reaped children's: a
// parent reaping a long-lived child would be charged the child's whole
// life within one window).
type ProcCPU struct {
	PID  int           `json:"pid"`
	Comm string        `json:"comm"`
	CPU  time.Duration `json:"cpuNs"`
}

// Procs is every process's CPU at one moment, by pid.
type Procs map[int]ProcCPU

// ReadProcs scans /proc/<pid>/stat for every process. Processes that vanish
// during the scan are skipped.
func ReadProcs() (Procs, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	ps := Procs{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		if p, err := parseProcCPU(pid, string(b)); err == nil {
			ps[pid] = p
		}
	}
	return ps, nil
}

func parseProcCPU(pid int, s string) (ProcCPU, error) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return ProcCPU{}, errors.New("proc: malformed stat")
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 15 {
		return ProcCPU{}, errors.New("proc: short stat")
	}
	// f[11], f[12] are utime and stime.
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return ProcCPU{}, fmt.Errorf("proc: stat: %w", err)
		}
		ticks += n
	}
	return ProcCPU{PID: pid, Comm: s[open+1 : end], CPU: time.Duration(ticks) * time.Second / ClockTicks}, nil
}

// Busiest returns the processes, other than those in exclude, that used
// the most CPU between a and b — at most n of them, busiest first, each
// using at least min. A process that started and ended inside the window
// is invisible here: the per-core totals
// (Cores) are the exact figure, these are the names.
func Busiest(a, b Procs, n int, min time.Duration, exclude ...int) []ProcCPU {
	skip := map[int]bool{}
	for _, pid := range exclude {
		skip[pid] = true
	}
	var out []ProcCPU
	for pid, p := range b {
		if skip[pid] {
			continue
		}
		d := p.CPU - a[pid].CPU // a process new in b started from 0
		if a[pid].Comm != "" && a[pid].Comm != p.Comm {
			d = p.CPU // the pid was reused
		}
		if d >= min && d > 0 {
			out = append(out, ProcCPU{PID: pid, Comm: p.Comm, CPU: d})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].CPU != out[j].CPU {
			return out[i].CPU > out[j].CPU
		}
		return out[i].PID < out[j].PID
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}
