package signal_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dial opens a socket for user, closed at the end of the test.
func dial(t *testing.T, env *signaltest.Env, room, user string, role proto.Role) *signaltest.Conn {
	t.Helper()
	c, err := env.Dial(testCtx(t), env.Token(room, user, role))
	if err != nil {
		t.Fatalf("dial %s: %v", user, err)
	}
	t.Cleanup(c.Close)
	return c
}

// join dials and joins, returning the socket and the snapshot.
func join(t *testing.T, env *signaltest.Env, room, user string, role proto.Role, params any) (*signaltest.Conn, proto.Snapshot) {
	t.Helper()
	c := dial(t, env, room, user, role)
	var snap proto.Snapshot
	if err := c.Call(testCtx(t), "room.join", params, &snap); err != nil {
		t.Fatalf("%s room.join: %v", user, err)
	}
	return c, snap
}

// call is Call that must succeed.
func call(t *testing.T, c *signaltest.Conn, method string, params, result any) {
	t.Helper()
	if err := c.Call(testCtx(t), method, params, result); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
}

// wantReason asserts a call fails with reason.
func wantReason(t *testing.T, c *signaltest.Conn, method string, params any, reason string) {
	t.Helper()
	err := c.Call(testCtx(t), method, params, nil)
	if !signaltest.IsReason(err, reason) {
		t.Fatalf("%s %v: got %v, want %s", method, params, err, reason)
	}
}

func wait(t *testing.T, c *signaltest.Conn, method string, match func(json.RawMessage) bool) signaltest.Notification {
	t.Helper()
	n, err := c.Wait(testCtx(t), method, match)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// memberIDs lists the room's members as the server sees them now.
func memberIDs(t *testing.T, c *signaltest.Conn) []string {
	t.Helper()
	var res struct {
		Members    []proto.User `json:"members"`
		NextCursor string       `json:"nextCursor"`
	}
	call(t, c, "room.members", map[string]any{"limit": 100}, &res)
	ids := make([]string, 0, len(res.Members))
	for _, m := range res.Members {
		ids = append(ids, m.UserID)
	}
	return ids
}
