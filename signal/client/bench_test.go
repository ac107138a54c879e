package client_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/coder/websocket"

	"github.com/seatsfu/seatsfu/signal"
	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// BenchmarkCallRoundTrip: one room.members call (limit 1) through the SDK
// and the real edge on 127.0.0.1, request rate limit off.
func BenchmarkCallRoundTrip(b *testing.B) {
	st := signaltest.Start(b, signaltest.WithSignalConfig(func(c *signal.Config) { c.RequestRate = -1 }))
	ctx := context.Background()
	c, err := client.Dial(ctx, st.WSURL, st.Token("bench", "olive", proto.RoleOwner))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Join(ctx, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := c.Members(ctx, "", 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFakeCallRoundTrip isolates the SDK's cost: the same call against
// a server that only echoes a result.
func BenchmarkFakeCallRoundTrip(b *testing.B) {
	f := newFakeB(b, func(ctx context.Context, conn *websocket.Conn) {
		for {
			req, err := readReq(ctx, conn)
			if err != nil {
				return
			}
			if reply(ctx, conn, req.ID, `{"members":[],"nextCursor":""}`) != nil {
				return
			}
		}
	})
	ctx := context.Background()
	c, err := client.Dial(ctx, f.wsURL, "tok")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := c.Members(ctx, "", 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNotificationIngest: a seat.changed of 10 seats read, folded into
// the store, logged and dispatched to a listener; per notification.
func BenchmarkNotificationIngest(b *testing.B) {
	seats := make([]proto.Seat, 10)
	for i := range seats {
		seats[i] = proto.Seat{Index: i, Microphone: proto.DeviceOff, Camera: proto.DeviceOff}
	}
	params, _ := json.Marshal(proto.SeatChanged{Seats: seats})
	frame := []byte(`{"jsonrpc":"2.0","method":"seat.changed","params":` + string(params) + `}`)
	n := b.N
	f := newFakeB(b, func(ctx context.Context, conn *websocket.Conn) {
		if _, _, err := conn.Read(ctx); err != nil { // the client's go-ahead
			return
		}
		for i := 0; i < n; i++ {
			if conn.Write(ctx, websocket.MessageText, frame) != nil {
				return
			}
		}
		conn.Read(ctx)
	})
	ctx := context.Background()
	got := make(chan struct{}, 1)
	count := 0
	c, err := client.Dial(ctx, f.wsURL, "tok", client.WithQueueSize(1<<16), client.WithEventLog(1))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	c.OnEvent(func(client.Event) {
		count++
		if count == n {
			got <- struct{}{}
		}
	})
	b.ReportAllocs()
	b.ResetTimer()
	if err := c.WriteRaw([]byte(`{}`)); err != nil {
		b.Fatal(err)
	}
	select {
	case <-got:
	case <-c.Done():
		b.Fatalf("client ended: %v", c.Err())
	}
}
