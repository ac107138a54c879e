package main

import (
	"context"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/token"
)

func runCmd(args []string, env map[string]string) (code int, stdout, stderr string) {
	var out, errb strings.Builder
	code = run(context.Background(), args, env, &out, &errb)
	return code, out.String(), errb.String()
}

func TestTokenCommand(t *testing.T) {
	code, out, errOut := runCmd([]string{"token", "--secret", "s3cret", "--room", "live-1", "--user", "ann",
		"--role", "owner", "--name", "Ann", "--avatar", "https://a/x.png", "--ttl", "2h"}, nil)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
		t.Fatalf("stdout must be exactly one token line, got %q", out)
	}
	id, err := token.Verify([]byte("s3cret"), strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("printed token does not verify: %v", err)
	}
	if id.UserID != "ann" || id.Room != "live-1" || id.Role != proto.RoleOwner || id.Name != "Ann" || id.Avatar != "https://a/x.png" {
		t.Fatalf("identity %+v", id)
	}
	if d := time.Until(id.Expires); d < 2*time.Hour-time.Minute || d > 2*time.Hour+time.Second {
		t.Fatalf("expires in %v, want 2h", d)
	}
	if _, err := token.Verify([]byte("other"), strings.TrimSpace(out)); err == nil {
		t.Fatal("token verified with the wrong secret")
	}
}

func TestTokenCommandSecretFromEnv(t *testing.T) {
	code, out, errOut := runCmd([]string{"token", "--room", "r", "--user", "u", "--role", "audience"},
		map[string]string{"SEATSFU_SECRET": "env-secret"})
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	id, err := token.Verify([]byte("env-secret"), strings.TrimSpace(out))
	if err != nil || id.Role != proto.RoleAudience {
		t.Fatalf("%+v %v", id, err)
	}
	if d := time.Until(id.Expires); d < 24*time.Hour-time.Minute || d > 24*time.Hour+time.Second {
		t.Fatalf("default ttl gave %v, want 24h", d)
	}
}

func TestTokenCommandErrors(t *testing.T) {
	base := []string{"--secret", "s", "--room", "r", "--user", "u", "--role", "admin"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no secret", []string{"--room", "r", "--user", "u", "--role", "admin"}, "--secret"},
		{"no room", []string{"--secret", "s", "--user", "u", "--role", "admin"}, "--room is required"},
		{"no user", []string{"--secret", "s", "--room", "r", "--role", "admin"}, "--user is required"},
		{"no role", []string{"--secret", "s", "--room", "r", "--user", "u"}, "--role is required"},
		{"bad role", append(base, "--role", "king"), "role"},
		{"bad user", append(base, "--user", "a b"), "sub has a character"},
		{"bad ttl", append(base, "--ttl", "0s"), "ttl"},
		{"unparsable ttl", append(base, "--ttl", "soon"), "ttl"},
		{"long name", append(base, "--name", strings.Repeat("n", 65)), "name"},
		{"stray arg", append(base, "extra"), "extra"},
		{"unknown flag", append(base, "--rooms", "x"), "rooms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(append([]string{"token"}, tc.args...), nil)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d", code, exitUsage)
			}
			if out != "" {
				t.Fatalf("printed %q on failure", out)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Fatalf("stderr %q does not mention %q", errOut, tc.want)
			}
		})
	}
}

func TestVersionCommand(t *testing.T) {
	code, out, _ := runCmd([]string{"version"}, nil)
	if code != exitOK || !strings.HasPrefix(out, "seatsfu ") || !strings.Contains(out, "go1.") {
		t.Fatalf("exit %d, %q", code, out)
	}
	if code, _, _ := runCmd([]string{"version", "x"}, nil); code != exitUsage {
		t.Fatalf("version with an argument: exit %d", code)
	}
}

func TestResolveVersion(t *testing.T) {
	info := func(bi *debug.BuildInfo) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) { return bi, bi != nil }
	}
	vcs := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"},
	}}
	for _, tc := range []struct {
		name, set string
		bi        *debug.BuildInfo
		want      string
	}{
		{"ldflags wins", "v9.9.9", vcs, "v9.9.9"},
		{"module version", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3"},
		{"vcs revision", "", vcs, "devel-0123456789ab-dirty"},
		{"nothing", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
		{"no build info", "", nil, "devel"},
	} {
		if got := resolveVersion(tc.set, info(tc.bi)); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	code, _, errOut := runCmd([]string{"serv"}, nil)
	if code != exitUsage || !strings.Contains(errOut, `unknown command "serv"`) {
		t.Fatalf("exit %d, %q", code, errOut)
	}
	if code, out, _ := runCmd([]string{"help"}, nil); code != exitOK || !strings.Contains(out, "seatsfu token") {
		t.Fatalf("help: exit %d %q", code, out)
	}
}

func TestServeBadConfigIsUsageError(t *testing.T) {
	// Refused before anything binds: no port, no goroutine.
	for _, args := range [][]string{{"--max-seats", "99"}, {"serve", "--video-codec", "av1"}, {"serve", "--nope"}} {
		code, _, errOut := runCmd(args, nil)
		if code != exitUsage || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	if code, _, _ := runCmd([]string{"serve", "-h"}, nil); code != exitOK {
		t.Errorf("serve -h: exit %d", code)
	}
}

func TestHelpShowsDefaultsAndSubcommands(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"serve", "-h"}, {"help"}} {
		code, out, errOut := runCmd(args, nil)
		if code != exitOK {
			t.Fatalf("%v: exit %d", args, code)
		}
		text := out + errOut
		for _, want := range []string{
			"seatsfu token [flags]", "seatsfu version", // the subcommands
			`--http address`, `(default ":7880")`, "[$SEATSFU_HTTP]",
			`--max-seats n`, "(default 10)", `--reconnect-grace duration`, `(default "15s")`,
			"--config file",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("%v: help lacks %q:\n%s", args, want, text)
			}
		}
		if _, rest, _ := strings.Cut(text, "--secret key\n"); strings.Contains(strings.SplitN(rest, "\n", 2)[0], "default") {
			t.Errorf("%v: the empty secret's default is shown:\n%s", args, text)
		}
	}
}

func TestVersionFlag(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version"}} {
		code, out, errOut := runCmd(args, nil)
		if code != exitOK || !strings.HasPrefix(out, "seatsfu ") || errOut != "" {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}

func TestOpenURL(t *testing.T) {
	for addr, want := range map[string]string{
		"[::]:7880":      "http://localhost:7880",
		"0.0.0.0:7880":   "http://localhost:7880",
		":7880":          "http://localhost:7880",
		"127.0.0.1:9000": "http://127.0.0.1:9000",
		"[::1]:7880":     "http://[::1]:7880",
		"10.1.2.3:80":    "http://10.1.2.3:80",
	} {
		if got := openURL(addr); got != want {
			t.Errorf("openURL(%q) = %q, want %q", addr, got, want)
		}
	}
}
