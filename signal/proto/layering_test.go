package proto_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// deps lists pkg and everything it imports, tests excluded.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// The wire lives here and only here: the rule engine does not know JSON,
// the Go SDK does not carry the rule engine, and proto itself imports
// nothing of the project (so every layer may use it).
func TestTheWireHasOneHome(t *testing.T) {
	const mod = "github.com/seatsfu/seatsfu/"
	if d := deps(t, mod+"seat"); slices.Contains(d, "encoding/json") {
		t.Error("seat depends on encoding/json: the wire has leaked into the rule engine")
	}
	if d := deps(t, mod+"signal/client"); slices.Contains(d, mod+"seat") {
		t.Error("the Go SDK depends on the rule engine (seat)")
	}
	// The server speaks its wire through proto, never through the SDK
	// its clients use (the cascade has its own small caller).
	if d := deps(t, mod+"signal"); slices.Contains(d, mod+"signal/client") {
		t.Error("the server (signal) depends on the Go SDK (signal/client)")
	}
	for _, d := range deps(t, mod+"signal/proto") {
		if strings.HasPrefix(d, mod) && d != mod+"signal/proto" {
			t.Errorf("signal/proto imports %s", d)
		}
	}
}
