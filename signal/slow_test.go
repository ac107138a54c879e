package signal_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/seatsfu/seatsfu/signal"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// A member that stops reading is cut off when its queue overflows; the room
// keeps answering everyone else meanwhile.
func TestSlowSocketIsClosedNotWaitedFor(t *testing.T) {
	env := signaltest.Start(t, signaltest.WithGrace(time.Millisecond),
		signaltest.WithSignalConfig(func(c *signal.Config) { c.RequestRate = -1 }))
	owner, _ := join(t, env, "r1", "boss", proto.RoleOwner, map[string]any{"create": map[string]any{"maxSeats": 16}})
	owner.DiscardNotifications()

	// The sleeper's kernel buffers are tiny, so its backlog reaches the
	// server's queue quickly.
	tiny := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4 << 10)
		}
		return c, err
	}}}
	ws, _, err := websocket.Dial(testCtx(t), env.WSURL+"?token="+env.Token("r1", "sleeper", proto.RoleAudience),
		&websocket.DialOptions{HTTPClient: tiny})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(testCtx(t), websocket.MessageText, []byte(`{"jsonrpc":"2.0","id":1,"method":"room.join"}`)); err != nil {
		t.Fatal(err)
	}
	watcher, _ := join(t, env, "r1", "watcher", proto.RoleAdmin, nil) // hosts hear memberLeft

	// Every lock toggle sends seat.changed to all; the sleeper reads none.
	// (The watcher's notifications are counted every 100 ops, not each.)
	lock := true
	for i := 0; i%100 != 0 || watcher.Count("room.memberLeft") == 0; i++ {
		if i > 20000 {
			t.Fatal("the slow socket was never cut off")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := owner.Call(ctx, "seat.lock", map[string]any{"seatIndex": 5, "lockAudio": lock}, nil)
		cancel()
		if err != nil {
			t.Fatalf("op %d while a member sleeps: %v", i, err) // the room must never wait for it
		}
		lock = !lock
	}
	wait(t, watcher, "room.memberLeft", userIs("sleeper"))
}
