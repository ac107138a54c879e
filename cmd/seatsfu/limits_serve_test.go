package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// The binary serves through the edge's connection caps and HTTP timeouts:
// with --max-conns-per-ip 2, an address holding two idle sockets gets 503 +
// Retry-After for its next request, /healthz still answers it, and the
// held sockets are cut at --http-read-timeout.
func TestServeCapsConnections(t *testing.T) {
	httpAddr := "127.0.0.1:" + strconv.Itoa(freePort(t, "tcp"))
	args := []string{"serve", "--http", httpAddr,
		"--rtc-udp-port", strconv.Itoa(freeRTCPort(t)),
		"--rtc-listen-ip", "127.0.0.1", "--rtc-ip", "127.0.0.1", "--log-level", "error",
		"--max-conns-per-ip", "2", "--http-read-timeout", "1s"}
	ctx, cancel := context.WithCancel(context.Background())
	exit := make(chan int, 1)
	go func() { exit <- run(ctx, args, nil, io.Discard, io.Discard) }()
	defer func() {
		cancel()
		if code := <-exit; code != 0 {
			t.Errorf("exit %d", code)
		}
	}()

	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	get := func(path string) (*http.Response, error) {
		resp, err := hc.Get("http://" + httpAddr + path)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return resp, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := get("/healthz"); err == nil && resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server never became healthy")
		}
		time.Sleep(20 * time.Millisecond)
	}

	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", httpAddr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			_ = c.Close()
		}
	}()
	// The listener counts a socket when it accepts it; poll until both are in.
	for {
		resp, err := get("/v1/rtc")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == http.StatusServiceUnavailable {
			if resp.Header.Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /v1/rtc over the cap: %d, want 503", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if resp, err := get("/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz over the cap: %v %v", resp, err)
	}
	// The idle sockets never sent a request: the read timeout cuts them.
	_ = held[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := held[0].Read(make([]byte, 1)); err == nil {
		t.Fatal("an idle socket got bytes")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("an idle socket was held %v", d)
	}
}
