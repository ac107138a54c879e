package main

import (
	"fmt"
	"io"
	"time"

	"github.com/seatsfu/seatsfu/signal/token"
)

// serviceTokenCmd is `seatsfu token --service --user NAME`: a token for an
// app's backend to call the server API (PROTOCOL.md §11). It names no room
// and has no member role, so asking for one is a usage error.
func serviceTokenCmd(secret, user, room, role string, ttl time.Duration, env map[string]string, stdout, stderr io.Writer) int {
	if room != "" || role != "" {
		fmt.Fprintln(stderr, "seatsfu token: --service takes no --room or --role")
		return exitUsage
	}
	if user == "" {
		fmt.Fprintln(stderr, "seatsfu token: --user (the backend's name) is required")
		return exitUsage
	}
	if secret == "" {
		secret = env["SEATSFU_SECRET"]
	}
	if secret == "" {
		fmt.Fprintln(stderr, "seatsfu token: --secret (or $SEATSFU_SECRET) is required")
		return exitUsage
	}
	raw, err := token.MintService([]byte(secret), user, ttl)
	if err != nil {
		fmt.Fprintf(stderr, "seatsfu token: %v\n", err)
		return exitUsage
	}
	fmt.Fprintln(stdout, raw)
	return exitOK
}
