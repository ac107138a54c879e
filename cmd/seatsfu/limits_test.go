package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

// Every limit is a flag, an env var and a YAML key, and a bad value is
// refused with the key's name.
func TestLimitSettings(t *testing.T) {
	c, err := Load([]string{"--max-conns", "7", "--token-expiry-grace", "3s"},
		map[string]string{"SEATSFU_MAX_PENDING_REQUESTS": "12", "SEATSFU_CONFIG": "f.yaml"},
		files(map[string]string{"f.yaml": "max-rooms: 3\nmax-conns: 9\njoin-timeout: 2s\n"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	l := c.Limits
	if l.MaxConns != 7 || l.TokenExpiryGrace != 3*time.Second || l.MaxPendingRequests != 12 || l.MaxRooms != 3 || l.JoinTimeout != 2*time.Second {
		t.Fatalf("limits %+v", l)
	}
	if got := l.signal(); got.MaxConns != 7 || got.ExpiryGrace != 3*time.Second || got.MaxPendingRequests != 12 {
		t.Fatalf("signal limits %+v", got)
	}
	for _, args := range [][]string{
		{"--max-members", "-1"}, {"--max-conns-per-ip", "x"}, {"--join-timeout", "0s"},
		{"--http-idle-timeout", "48h"}, {"--max-whep-per-user", "-3"},
	} {
		_, err := Load(args, nil, nil, io.Discard)
		if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(args[0], "--")) {
			t.Errorf("%v: got %v, want an error naming the key", args, err)
		}
	}
}
