package signal_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/seatsfu/seatsfu/signal"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// benchClientsPerCPU keeps enough requests in flight that the edge, not
// the round-trip latency of one client, is what the benchmarks measure.
const benchClientsPerCPU = 8

// benchEnv starts an edge without the per-socket request limit (the point
// is to measure the edge, not the limiter) and opens room r1 in free mode.
func benchEnv(b *testing.B) (*signaltest.Env, *signaltest.Conn) {
	env := signaltest.Start(b, signaltest.WithSignalConfig(func(c *signal.Config) { c.RequestRate = -1 }))
	owner, err := env.Dial(context.Background(), env.Token("r1", "boss", proto.RoleOwner))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(owner.Close)
	owner.DiscardNotifications()
	if err := owner.Call(context.Background(), "room.join", map[string]any{"create": map[string]any{"seatMode": "free", "maxSeats": 16}}, nil); err != nil {
		b.Fatal(err)
	}
	return env, owner
}

// BenchmarkJoin: a viewer opens a socket (token checked), joins, leaves and
// closes — the full cost of one join over a real socket.
func BenchmarkJoin(b *testing.B) {
	env, _ := benchEnv(b)
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(benchClientsPerCPU)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c, err := env.Dial(ctx, env.Token("r1", fmt.Sprintf("v%d", n.Add(1)), proto.RoleAudience))
			if err != nil {
				b.Error(err)
				return
			}
			c.DiscardNotifications()
			if err := c.Call(ctx, "room.join", nil, nil); err != nil {
				b.Error(err)
			}
			if err := c.Call(ctx, "room.leave", nil, nil); err != nil {
				b.Error(err)
			}
			c.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "joins/s")
}

// BenchmarkSeatOps: joined guests take a seat and leave it again, each op a
// round trip through the room's lock with seat.changed fanned out to every
// member. One op = one seat.take or one seat.leave (with 16 clients on 15
// guest seats, some takes are refused seats_full: still a full round trip).
func BenchmarkSeatOps(b *testing.B) {
	env, _ := benchEnv(b)
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(benchClientsPerCPU)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := env.Dial(ctx, env.Token("r1", fmt.Sprintf("g%d", n.Add(1)), proto.RoleAudience))
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		c.DiscardNotifications()
		if err := c.Call(ctx, "room.join", nil, nil); err != nil {
			b.Error(err)
			return
		}
		seated := false
		for pb.Next() {
			method, params := "seat.take", any(map[string]any{"seatIndex": -1})
			if seated {
				method, params = "seat.leave", nil
			}
			err := c.Call(ctx, method, params, nil)
			switch {
			case err == nil:
				seated = !seated
			case signaltest.IsReason(err, "seats_full"):
			default:
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
