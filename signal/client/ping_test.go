package client_test

import (
	"context"
	"testing"

	"github.com/coder/websocket"

	"github.com/seatsfu/seatsfu/signal/client"
)

// The SDK answers the server's pings while it is otherwise quiet (it keeps a
// read going at all times), so the server never drops a healthy idle client
// as silent. The fake server pings with no deadline but the test's own: a
// ping is answered or the test fails, whatever the machine's load — the old
// end-to-end version raced a 200 ms timeout against the scheduler.
func TestQuietClientSurvivesPings(t *testing.T) {
	ctx := testCtx(t)
	answered := make(chan error, 1)
	f := newFake(t, func(ctx context.Context, conn *websocket.Conn) {
		// CloseRead keeps reading control frames (the pongs) for Ping; the
		// client sends no data frame while it is quiet.
		ctx = conn.CloseRead(ctx)
		var err error
		for range 5 {
			if err = conn.Ping(ctx); err != nil {
				break
			}
		}
		answered <- err
		<-ctx.Done()
	})
	c, err := client.Dial(ctx, f.wsURL, "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case err := <-answered:
		if err != nil {
			t.Fatalf("a quiet client left a ping unanswered: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("a quiet client left a ping unanswered")
	}
	if err := c.Err(); err != nil {
		t.Fatalf("the client closed while pinged: %v", err)
	}
}
