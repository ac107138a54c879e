package cpuprofile

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// With the variable set, Start writes a profile to the named file, %p
// replaced by the pid; stop finishes it (a gzipped protobuf).
func TestStartWritesTheProfileAtStop(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(Env, filepath.Join(dir, "cpu-%p.pprof"))
	stop := Start()
	stop()
	b, err := os.ReadFile(filepath.Join(dir, "cpu-"+strconv.Itoa(os.Getpid())+".pprof"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("the profile is not gzipped pprof data (%d bytes)", len(b))
	}
}

// Unset, Start does nothing and its stop is safe to call.
func TestStartUnsetDoesNothing(t *testing.T) {
	t.Setenv(Env, "")
	Start()()
}
