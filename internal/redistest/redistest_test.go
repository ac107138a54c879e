package redistest

import (
	"syscall"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestKillRestart proves the server answers, is really gone after Kill (its
// process too), and answers again on the same address after Restart.
func TestKillRestart(t *testing.T) {
	s := Start(t)
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("fresh server: %v", err)
	}
	pid := s.PID()
	s.Kill()
	if err := ping(s.Addr()); err == nil {
		t.Fatal("a killed server still answers PING")
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Fatalf("process %d still exists after Kill", pid)
	}
	if s.PID() != 0 {
		t.Fatal("PID of a killed server is not 0")
	}
	s.Restart()
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("restarted server: %v", err)
	}
	if s.PID() == pid || s.PID() == 0 {
		t.Fatalf("restart kept pid %d", s.PID())
	}
}

// TestTwoServers proves each test gets its own server on its own port.
func TestTwoServers(t *testing.T) {
	a, b := Start(t), Start(t)
	if a.Addr() == b.Addr() {
		t.Fatalf("two servers share %s", a.Addr())
	}
	a.Kill()
	if err := ping(b.Addr()); err != nil {
		t.Fatalf("killing one server took the other down: %v", err)
	}
}
