package cpuprofile

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// With the variable set, StartMem keeps a heap profile at the named file
// (%p replaced by the pid) while the process runs, and stop ends it.
func TestStartMemRewritesTheHeapProfile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(MemEnv, filepath.Join(dir, "heap-%p.pprof"))
	stop := StartMem()
	defer stop()
	name := filepath.Join(dir, "heap-"+strconv.Itoa(os.Getpid())+".pprof")
	deadline := time.Now().Add(10 * memEvery)
	for {
		b, err := os.ReadFile(name)
		if err == nil {
			if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
				t.Fatalf("the profile is not gzipped pprof data (%d bytes)", len(b))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no heap profile after %v: %v", 10*memEvery, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Unset, StartMem does nothing and its stop is safe to call.
func TestStartMemUnsetDoesNothing(t *testing.T) {
	t.Setenv(MemEnv, "")
	StartMem()()
}
