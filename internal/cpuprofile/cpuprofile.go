// Package cpuprofile is a debugging aid for the bench (issue 16): with
// SEATSFU_CPUPROFILE set, a process writes a CPU profile of its whole
// life to that file, a "%p" in the name replaced by its process id (the
// bench starts one server per target and step). It is an environment
// variable, not a setting, on purpose: it is for whoever profiles the
// server under `seatbench`, which passes its environment to every server
// it starts, and it costs nothing unset.
package cpuprofile

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
)

// Env names the profile's file.
const Env = "SEATSFU_CPUPROFILE"

// Start starts profiling when Env is set. The returned stop writes the
// profile; call it before the process exits. A profile that cannot be
// started is reported on stderr and the process runs unprofiled.
func Start() (stop func()) {
	name := os.Getenv(Env)
	if name == "" {
		return func() {}
	}
	name = strings.ReplaceAll(name, "%p", strconv.Itoa(os.Getpid()))
	f, err := os.Create(name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", Env, err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", Env, err)
		_ = f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}
