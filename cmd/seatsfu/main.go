// Command seatsfu is the seatsfu server and its helpers:
//
//	seatsfu [serve] [flags]   run the server (the default)
//	seatsfu token  [flags]    print one signed access token
//	seatsfu version           print the version
//
// See PROTOCOL.md §1 and configs/seatsfu.yaml for every setting.
package main

import (
	"context"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/seatsfu/seatsfu/internal/cpuprofile"
)

func main() {
	// The first SIGINT/SIGTERM asks for a graceful shutdown; once the context
	// is cancelled the handler is removed, so a second Ctrl-C kills at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	stopProfile := cpuprofile.Start() // SEATSFU_CPUPROFILE: a debugging aid for the bench
	stopMem := cpuprofile.StartMem()  // SEATSFU_MEMPROFILE: likewise, the heap
	code := run(ctx, os.Args[1:], environ(), os.Stdout, os.Stderr)
	stopMem()
	stopProfile()
	os.Exit(code)
}

// environ is the process environment as a map, for Load.
func environ() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}
