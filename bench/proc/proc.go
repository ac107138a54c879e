// Package proc runs a server under test as its own process and reads what
// the kernel and its /metrics say about it: CPU time, RSS, goroutines.
package proc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ClockTicks is USER_HZ, the unit of /proc/<pid>/stat's CPU times; 100 on
// every Linux build that matters.
const ClockTicks = 100

// Usage is a process's cumulative CPU time and current RSS.
type Usage struct {
	CPU    time.Duration // user + system
	System time.Duration // the kernel's part of CPU (sendmmsg, loopback delivery, wake-ups)
	RSS    int64         // bytes
}

// ReadUsage reads /proc/<pid>/stat.
func ReadUsage(pid int) (Usage, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Usage{}, err
	}
	return parseStat(string(b))
}

func parseStat(s string) (Usage, error) {
	// The command name may hold spaces and parentheses: fields start after
	// the last ')'.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return Usage{}, errors.New("proc: malformed stat")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime 15, rss 24.
	if len(f) < 22 {
		return Usage{}, errors.New("proc: short stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	rss, err3 := strconv.ParseInt(f[21], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return Usage{}, fmt.Errorf("proc: stat: %w", err)
	}
	return Usage{
		CPU:    time.Duration(ut+st) * time.Second / ClockTicks,
		System: time.Duration(st) * time.Second / ClockTicks,
		RSS:    rss * int64(os.Getpagesize()),
	}, nil
}

// Server is a spawned server process.
type Server struct {
	Name    string
	BaseURL string // http://127.0.0.1:port
	CPU     int    // the core it is pinned to, -1 if not pinned
	Pinned  string // how the pinning was done, for the report
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

// Spec says how to start a server.
type Spec struct {
	Name    string
	Path    string
	Args    []string
	BaseURL string
	// CPU pins the server to one core when ≥ 0 (via taskset when present,
	// else sched_setaffinity on every thread once it is up).
	CPU    int
	Stderr io.Writer
	// HealthPath is the path answering 200 once the server is ready
	// ("/healthz" when empty; LiveKit answers on "/").
	HealthPath string
}

// Start spawns spec and waits until GET /healthz answers 200.
func Start(ctx context.Context, spec Spec) (*Server, error) {
	path, args := spec.Path, spec.Args
	pinned := "not pinned"
	ts, tsErr := exec.LookPath("taskset")
	if spec.CPU >= 0 && tsErr == nil {
		args = append([]string{"-c", strconv.Itoa(spec.CPU), path}, args...)
		path = ts
		pinned = fmt.Sprintf("taskset -c %d", spec.CPU)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout = spec.Stderr
	cmd.Stderr = spec.Stderr
	cmd.SysProcAttr = &unix.SysProcAttr{Pdeathsig: unix.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("proc: start %s: %w", spec.Name, err)
	}
	s := &Server{Name: spec.Name, BaseURL: spec.BaseURL, CPU: spec.CPU, Pinned: pinned, cmd: cmd, exited: make(chan struct{})}
	go func() { s.waitErr = cmd.Wait(); close(s.exited) }()
	health := spec.HealthPath
	if health == "" {
		health = "/healthz"
	}
	if err := s.waitHealthy(ctx, health, 15*time.Second); err != nil {
		_ = s.Stop()
		return nil, err
	}
	if spec.CPU >= 0 && tsErr != nil {
		if err := PinAll(cmd.Process.Pid, spec.CPU); err == nil {
			s.Pinned = fmt.Sprintf("sched_setaffinity cpu %d", spec.CPU)
		}
	}
	return s, nil
}

// PID is the server's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

func (s *Server) waitHealthy(ctx context.Context, path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("proc: %s exited before it was ready: %v", s.Name, s.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := client.Get(s.BaseURL + path)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("proc: %s not healthy after %v", s.Name, timeout)
}

// Usage reads the server's CPU time and RSS.
func (s *Server) Usage() (Usage, error) { return ReadUsage(s.PID()) }

// Metric sums every sample of a metric family in the server's /metrics
// (all label sets), e.g. "go_goroutines".
func (s *Server) Metric(name string) (float64, error) {
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(s.BaseURL + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return SumMetric(resp.Body, name)
}

// SumMetric sums the samples of one family in Prometheus text format.
func SumMetric(r io.Reader, name string) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var sum float64
	found := false
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue // a longer name sharing the prefix
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		sum += v
		found = true
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("proc: no metric %q", name)
	}
	return sum, nil
}

// Stop sends SIGTERM, waits up to 5 s, then kills.
func (s *Server) Stop() error {
	select {
	case <-s.exited:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(unix.SIGTERM)
	select {
	case <-s.exited:
		return nil
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("proc: %s ignored SIGTERM for 5 s and was killed", s.Name)
	}
}

// PinAll sets the CPU affinity of every thread of pid (0 = this process) to
// one core. New threads inherit it from the thread that creates them.
func PinAll(pid, cpu int) error {
	dir := "/proc/self/task"
	if pid != 0 {
		dir = fmt.Sprintf("/proc/%d/task", pid)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var set unix.CPUSet
	set.Set(cpu)
	var errs []error
	for _, e := range entries {
		tid, err := strconv.Atoi(filepath.Base(e.Name()))
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// FreeTCPPort and FreeUDPPort find a free loopback port.
func FreeTCPPort() (int, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func FreeUDPPort() (int, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// Machine is the CPU time all cores spent since boot, from /proc/stat.
type Machine struct {
	// Busy is user, nice, system and irq time: not idle, iowait, softirq
	// or steal.
	Busy time.Duration
	// SoftIRQ is softirq time: on loopback, mostly the kernel delivering
	// the packets the servers send — forwarding cost no process is charged.
	SoftIRQ time.Duration
	// Steal is time the hypervisor gave the core to another machine: on a
	// VM, a core can be lost without any process here using it.
	Steal time.Duration
}

// ReadMachine reads /proc/stat's total line. A scenario compares it with
// the server's and the generator's own CPU to show how much else ran:
// other builds and tests on a shared machine skew a benchmark.
func ReadMachine() (Machine, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return Machine{}, err
	}
	return parseMachine(string(b))
}

func parseMachine(s string) (Machine, error) {
	line, _, _ := strings.Cut(s, "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return Machine{}, errors.New("proc: malformed /proc/stat")
	}
	// user nice system idle iowait irq softirq steal [guest guest_nice]:
	// guest time is already counted in user.
	var busy, soft, steal int64
	for i, v := range f[1:8] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return Machine{}, fmt.Errorf("proc: /proc/stat: %w", err)
		}
		switch i {
		case 3, 4: // idle, iowait
		case 6:
			soft = n
		default:
			busy += n
		}
	}
	if len(f) > 8 {
		if steal, _ = strconv.ParseInt(f[8], 10, 64); steal < 0 {
			steal = 0
		}
	}
	tick := func(n int64) time.Duration { return time.Duration(n) * time.Second / ClockTicks }
	return Machine{Busy: tick(busy), SoftIRQ: tick(soft), Steal: tick(steal)}, nil
}

// SoftnetDrops sums the per-CPU "dropped" column of /proc/net/softnet_stat:
// packets the kernel dropped because a CPU's input backlog was full. On
// loopback this is where a burst that outruns softirq processing is lost,
// before any socket sees it.
func SoftnetDrops() (uint64, error) {
	b, err := os.ReadFile("/proc/net/softnet_stat")
	if err != nil {
		return 0, err
	}
	return parseSoftnet(string(b))
}

func parseSoftnet(s string) (uint64, error) {
	var sum uint64
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			return 0, errors.New("proc: malformed softnet_stat")
		}
		n, err := strconv.ParseUint(f[1], 16, 64)
		if err != nil {
			return 0, fmt.Errorf("proc: softnet_stat: %w", err)
		}
		sum += n
	}
	return sum, nil
}

// UDPRcvbufErrors reads the kernel's count of UDP datagrams dropped because
// a socket's receive buffer was full (/proc/net/snmp, Udp RcvbufErrors),
// machine-wide: a server that reads its socket too slowly, or a burst that
// outruns a viewer's buffer, shows up here.
func UDPRcvbufErrors() (uint64, error) {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0, err
	}
	return parseSNMP(string(b), "Udp:", "RcvbufErrors")
}

func parseSNMP(s, table, field string) (uint64, error) {
	var names []string
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != table {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == field && i < len(f) {
				return strconv.ParseUint(f[i], 10, 64)
			}
		}
		break
	}
	return 0, fmt.Errorf("proc: no %s %s in snmp", table, field)
}

// UDPPortDrops sums the per-socket "drops" column of /proc/net/udp and
// /proc/net/udp6 for sockets bound to port: how many datagrams the kernel
// threw away because that socket's receive buffer was full. Only sockets
// still open are counted.
func UDPPortDrops(port int) (uint64, error) {
	var sum uint64
	for _, f := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		n, err := parseUDPDrops(string(b), port)
		if err != nil {
			return 0, err
		}
		sum += n
	}
	return sum, nil
}

func parseUDPDrops(s string, port int) (uint64, error) {
	var sum uint64
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) < 13 {
			return 0, errors.New("proc: malformed /proc/net/udp")
		}
		_, hexPort, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		p, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil || int(p) != port {
			continue
		}
		d, err := strconv.ParseUint(f[len(f)-1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("proc: /proc/net/udp drops: %w", err)
		}
		sum += d
	}
	return sum, nil
}
