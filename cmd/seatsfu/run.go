package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the server or command failed
	exitUsage = 2 // bad flags, config or arguments
)

// readConfigFile is how Load reads --config; a variable so tests can hand
// files from memory.
var readConfigFile ReadFile = os.ReadFile

// run is the whole program behind main, with its inputs passed in so tests
// can drive it: args without the program name, the environment as a map.
// It returns the process exit code.
func run(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) == 1 && isVersionFlag(args[0]) {
		cmd, args = "version", nil
	}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, env, stderr)
	case "token":
		return tokenCmd(args, env, stdout, stderr)
	case "version":
		if len(args) > 0 {
			fmt.Fprintf(stderr, "seatsfu version: unexpected argument %q\n", args[0])
			return exitUsage
		}
		fmt.Fprintln(stdout, versionString())
		return exitOK
	case "help":
		printServeUsage(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "seatsfu: unknown command %q\n%s", cmd, usageText)
	return exitUsage
}

// usageExit maps a flag/config error to an exit code: -h is not a failure.
func usageExit(stderr io.Writer, prefix string, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	fmt.Fprintf(stderr, "%s: %v\n", prefix, err)
	return exitUsage
}
