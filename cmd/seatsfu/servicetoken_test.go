package main

import (
	"io"
	"strings"
	"testing"

	"github.com/seatsfu/seatsfu/signal/token"
)

func TestServiceTokenCommand(t *testing.T) {
	code, out, errOut := runCmd([]string{"token", "--service", "--user", "billing", "--secret", "s3cret"}, nil)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	name, err := token.VerifyService([]byte("s3cret"), strings.TrimSpace(out))
	if err != nil || name != "billing" {
		t.Fatalf("VerifyService = %q, %v", name, err)
	}
	for _, args := range [][]string{
		{"token", "--service", "--secret", "s"},                                   // no --user
		{"token", "--service", "--user", "b", "--room", "r", "--secret", "s"},     // a room
		{"token", "--service", "--user", "b", "--role", "admin", "--secret", "s"}, // a role
		{"token", "--service", "--user", "b"},                                     // no secret
		{"token", "--service", "--user", "bad name", "--secret", "s"},             // bad charset
	} {
		if code, out, _ := runCmd(args, nil); code != exitUsage || out != "" {
			t.Errorf("%v: exit %d, stdout %q; want a usage error and nothing printed", args, code, out)
		}
	}
}

func TestWebhookSettingsAreChecked(t *testing.T) {
	for _, args := range [][]string{
		{"--webhook-url", "ftp://x.example/h"},
		{"--webhook-url", "not a url"},
		{"--webhook-queue", "0"},
		{"--webhook-queue", "many"},
	} {
		if _, err := Load(args, nil, nil, io.Discard); err == nil || !strings.Contains(err.Error(), "webhook") {
			t.Errorf("%v: %v, want an error naming the webhook setting", args, err)
		}
	}
}
