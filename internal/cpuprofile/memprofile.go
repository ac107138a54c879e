package cpuprofile

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

// MemEnv names the heap profile's file (issue 16: what a viewer costs).
const MemEnv = "SEATSFU_MEMPROFILE"

// memEvery is how often the heap profile is rewritten. The profile is
// rewritten while the server runs, not written at exit, because by exit
// the graceful shutdown has already let the viewers go: the last copy
// before the bench stops the server is the one taken under full load.
const memEvery = 2 * time.Second

// StartMem rewrites a heap profile (inuse_space, as of the last GC) to
// the file MemEnv names every memEvery until the returned stop is called.
// Unset, it does nothing.
func StartMem() (stop func()) {
	name := os.Getenv(MemEnv)
	if name == "" {
		return func() {}
	}
	name = strings.ReplaceAll(name, "%p", strconv.Itoa(os.Getpid()))
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(memEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := writeHeap(name); err != nil {
					fmt.Fprintf(os.Stderr, "%s: %v\n", MemEnv, err)
					return
				}
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// writeHeap writes the profile beside name and renames it into place, so
// a reader never sees half a profile.
func writeHeap(name string) error {
	runtime.GC() // the profile reports the heap as of the last GC
	tmp := name + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}
