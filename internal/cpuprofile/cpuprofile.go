// Package cpuprofile is a debugging aid for the bench (issue 16): with
// SEATSFU_CPUPROFILE set, a process writes a CPU profile of its whole
// life to that file, a "%p" in the name replaced by its process id (the
// bench starts one server per target and step). It is an environment
// variable, not a setting, on purpose: it is for whoever profiles the
// server under `seatbench`, which passes its environment to every server
// it starts, and it costs nothing unset.
//
// A SIGUSR1 cuts the profile: what was profiled so far is written, and a
// new profile goes on in the next file, ".1", ".2"… before the name's
// extension. `seatbench` cuts at the measuring window's start and end, so
// "cpu-<pid>.1.pprof" is the window alone, without the joins before it
// (which a whole-life profile mixes in). The signal is only handled while
// the variable is set; unset, SIGUSR1 keeps its default action.
package cpuprofile

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Env names the profile's file.
const Env = "SEATSFU_CPUPROFILE"

// CutSignal cuts the profile (see the package comment).
const CutSignal = syscall.SIGUSR1

// Start starts profiling when Env is set. The returned stop writes the
// profile; call it before the process exits. A profile that cannot be
// started is reported on stderr and the process runs unprofiled.
func Start() (stop func()) {
	name := os.Getenv(Env)
	if name == "" {
		return func() {}
	}
	p := &profile{name: strings.ReplaceAll(name, "%p", strconv.Itoa(os.Getpid()))}
	if !p.start() {
		return func() {}
	}
	cuts := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(cuts, CutSignal)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // owned by stop, which ends it
		defer wg.Done()
		for {
			select {
			case <-cuts:
				p.cut()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(cuts)
		close(done)
		wg.Wait()
		p.stop()
	}
}

// profile is the running profile and its segment number.
type profile struct {
	name string
	seg  int
	f    io.Closer
}

// segment is the file of segment n: the name itself for 0, then ".n"
// before the extension.
func segment(name string, n int) string {
	if n == 0 {
		return name
	}
	ext := filepath.Ext(name)
	return fmt.Sprintf("%s.%d%s", strings.TrimSuffix(name, ext), n, ext)
}

func (p *profile) start() bool {
	f, err := os.Create(segment(p.name, p.seg))
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", Env, err)
		return false
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", Env, err)
		_ = f.Close()
		return false
	}
	p.f = f
	return true
}

func (p *profile) stop() {
	if p.f == nil {
		return
	}
	pprof.StopCPUProfile()
	_ = p.f.Close()
	p.f = nil
}

// cut ends the running segment and starts the next.
func (p *profile) cut() {
	p.stop()
	p.seg++
	p.start()
}
