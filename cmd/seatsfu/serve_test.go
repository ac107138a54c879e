package main

import (
	"context"
	"io"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		main() // a node started by a test (cluster_process_test.go); it exits
	}
	goleak.VerifyTestMain(m)
}

// freePort finds a port nobody listens on, below the kernel's ephemeral
// range: a port :0 hands out is in that range, where the node's and other
// tests' outgoing connections take their local ports too, so one could
// take it between the pick and the node's bind (CI saw "bind: address
// already in use"). Below it, only another test's pick can collide.
func freePort(t *testing.T, network string) int {
	t.Helper()
	low := ephemeralLow()
	for range 200 {
		port := 10000 + mathrand.IntN(low-10000)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		if network == "tcp" {
			if ln, err := net.Listen("tcp", addr); err == nil {
				ln.Close()
				return port
			}
		} else if pc, err := net.ListenPacket("udp", addr); err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no free port below the ephemeral range")
	return 0
}

// ephemeralLow is the first port of the kernel's ephemeral range (32768
// when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	if n, err := strconv.Atoi(f[0]); err == nil && n > 11000 {
		return n
	}
	return 32768
}

// freeRTCPort finds a port number free for UDP and TCP both: the media port
// serves ICE over UDP and, by default, ICE-TCP on the same number
// (PROTOCOL.md §9), so a number free for UDP alone may collide with the HTTP
// listener or another test's TCP socket.
func freeRTCPort(t *testing.T) int {
	t.Helper()
	for range 100 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		pc.Close()
		if err == nil {
			ln.Close()
			return port
		}
	}
	t.Fatal("no port number free for both UDP and TCP")
	return 0
}

// syncBuffer collects the server's log written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeLifecycle runs the real binary logic on loopback ports: it must
// answer /healthz, serve metrics and the demo token in dev mode, and exit 0
// within 5 s of the context (SIGINT/SIGTERM in main) being cancelled.
func TestServeLifecycle(t *testing.T) {
	httpAddr := "127.0.0.1:" + strconv.Itoa(freePort(t, "tcp"))
	args := []string{"serve", "--http", httpAddr,
		"--rtc-udp-port", strconv.Itoa(freeRTCPort(t)),
		"--rtc-listen-ip", "127.0.0.1", "--rtc-ip", "127.0.0.1", "--log-level", "debug"}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	exit := make(chan int, 1)
	go func() { exit <- run(ctx, args, nil, io.Discard, logs) }()

	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	get := func(path string) (int, string, error) {
		resp, err := client.Get("http://" + httpAddr + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}

	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _, err := get("/healthz")
		if err == nil && code == http.StatusOK {
			break
		}
		select {
		case c := <-exit:
			t.Fatalf("server exited early with %d:\n%s", c, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz never answered 200 (last: %d %v):\n%s", code, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	if !strings.Contains(logs.String(), "DEV MODE") {
		t.Errorf("no dev mode warning in the log:\n%s", logs.String())
	}
	code, body, err := get("/metrics")
	if err != nil || code != http.StatusOK {
		t.Errorf("/metrics: %d %v", code, err)
	}
	for _, m := range []string{"go_goroutines", "process_start_time_seconds"} {
		if !strings.Contains(body, m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	code, body, err = get("/demo/token?room=r1&user=u1&role=owner")
	if err != nil || code != http.StatusOK || !strings.Contains(body, `"token"`) {
		t.Errorf("/demo/token in dev mode: %d %q %v", code, body, err)
	}
	client.CloseIdleConnections()

	cancel()
	select {
	case c := <-exit:
		if c != exitOK {
			t.Fatalf("exit %d after shutdown:\n%s", c, logs.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("still running 5 s after shutdown was asked:\n%s", logs.String())
	}
	if _, err := net.DialTimeout("tcp", httpAddr, time.Second); err == nil {
		t.Fatal("HTTP port still accepts connections after exit")
	}
	// The ready line says where to go, as a URL one can open.
	if want := `msg="seatsfu ready: open http://` + httpAddr + `" demo=http://` + httpAddr + `/ signal=ws://` + httpAddr + `/v1/rtc`; !strings.Contains(logs.String(), want) {
		t.Errorf("no ready line %s in the log:\n%s", want, logs.String())
	}
}

// TestServeWithSecretHidesDemoToken checks that a configured secret turns
// dev mode off: /demo/token answers 404.
func TestServeWithSecretHidesDemoToken(t *testing.T) {
	httpAddr := "127.0.0.1:" + strconv.Itoa(freePort(t, "tcp"))
	env := map[string]string{
		"SEATSFU_SECRET":        "a-production-secret-of-32-bytes!",
		"SEATSFU_HTTP":          httpAddr,
		"SEATSFU_RTC_UDP_PORT":  strconv.Itoa(freeRTCPort(t)),
		"SEATSFU_RTC_LISTEN_IP": "127.0.0.1",
		"SEATSFU_RTC_IP":        "127.0.0.1",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	exit := make(chan int, 1)
	go func() { exit <- run(ctx, nil, env, io.Discard, logs) }()

	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get("http://" + httpAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case c := <-exit:
			t.Fatalf("server exited early with %d:\n%s", c, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz never answered:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := client.Get("http://" + httpAddr + "/demo/token?room=r&user=u&role=owner")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/demo/token with a secret: %d, want 404", resp.StatusCode)
	}
	if strings.Contains(logs.String(), "DEV MODE") {
		t.Error("dev mode warning with a secret configured")
	}
	client.CloseIdleConnections()
	cancel()
	select {
	case c := <-exit:
		if c != exitOK {
			t.Fatalf("exit %d:\n%s", c, logs.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still running 5 s after shutdown")
	}
}
