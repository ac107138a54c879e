package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/token"
)

// tokenCmd is `seatsfu token`: it prints one signed token on stdout and
// nothing else, so `TOKEN=$(seatsfu token ...)` works. The secret may come
// from $SEATSFU_SECRET so it stays out of shell history.
func tokenCmd(args []string, env map[string]string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("seatsfu token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	secret := fs.String("secret", "", "HMAC `key` the server was started with [$SEATSFU_SECRET]")
	room := fs.String("room", "", "room `id` (required)")
	user := fs.String("user", "", "user `id` (required)")
	role := fs.String("role", "", "`role`: owner, admin or audience (required)")
	name := fs.String("name", "", "display `name`")
	avatar := fs.String("avatar", "", "avatar `URL`")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token is valid")
	service := fs.Bool("service", false, "a service token for the server API (/v1/api): --user names the backend; no --room or --role")
	if err := fs.Parse(args); err != nil {
		return usageExit(stderr, "seatsfu token", err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "seatsfu token: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *service {
		return serviceTokenCmd(*secret, *user, *room, *role, *ttl, env, stdout, stderr)
	}
	for _, req := range []struct{ flag, value string }{{"room", *room}, {"user", *user}, {"role", *role}} {
		if req.value == "" {
			fmt.Fprintf(stderr, "seatsfu token: --%s is required\n", req.flag)
			return exitUsage
		}
	}
	if *secret == "" {
		*secret = env["SEATSFU_SECRET"]
	}
	if *secret == "" {
		fmt.Fprintln(stderr, "seatsfu token: --secret (or $SEATSFU_SECRET) is required")
		return exitUsage
	}
	raw, err := token.Mint([]byte(*secret), token.Identity{
		UserID: *user, Room: *room, Role: proto.Role(*role), Name: *name, Avatar: *avatar,
	}, *ttl)
	if err != nil {
		fmt.Fprintf(stderr, "seatsfu token: %v\n", err)
		return exitUsage
	}
	fmt.Fprintln(stdout, raw)
	return exitOK
}
