package webhook_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/internal/metrictest"
	"github.com/seatsfu/seatsfu/signal/webhook"
)

// TestHoldKeepsAnEventUntilReleased: an event whose hold has not released
// is not sent, the events of its room emitted after it (held or not) wait
// behind it in order, and another room's events go out meanwhile, even
// with a single worker.
func TestHoldKeepsAnEventUntilReleased(t *testing.T) {
	rcv := newReceiver(t, nil)
	d, _ := start(t, webhook.Config{URLs: []string{rcv.srv.URL}, Workers: 1})
	gate := make(chan struct{})
	d.HoldUntil(func(room string) func(context.Context) {
		if room != "held" {
			return nil
		}
		return func(ctx context.Context) {
			select {
			case <-gate:
			case <-ctx.Done():
			}
		}
	})
	d.Emit("held", webhook.SeatTaken, map[string]int{"n": 0})
	d.HoldUntil(nil) // the later events of "held" carry no hold of their own
	d.Emit("held", webhook.SeatTaken, map[string]int{"n": 1})
	for i := range 3 {
		d.Emit("free", webhook.SeatTaken, map[string]int{"n": i})
	}
	eventually(t, "the free room's events", func() bool { return len(rcv.acked()) == 3 })
	for _, g := range rcv.all() {
		if g.env.RoomID != "free" {
			t.Fatalf("event %s of room %s sent while its hold was on", g.env.ID, g.env.RoomID)
		}
	}
	close(gate)
	eventually(t, "the held room's events", func() bool { return len(rcv.acked()) == 5 })
	var order []string
	for _, g := range rcv.acked() {
		if g.env.RoomID == "held" {
			order = append(order, fmt.Sprint(g.env.Data.(map[string]any)["n"]))
		}
	}
	if fmt.Sprint(order) != "[0 1]" {
		t.Fatalf("held room's events arrived as %v, want [0 1]", order)
	}
}

// TestHoldEndsWithClose: Close does not hang on an event whose hold never
// releases; the hold's wait sees its ctx end and the event is counted as
// dropped at shutdown.
func TestHoldEndsWithClose(t *testing.T) {
	rcv := newReceiver(t, nil)
	d, reg := start(t, webhook.Config{URLs: []string{rcv.srv.URL}})
	d.HoldUntil(func(string) func(context.Context) { return func(ctx context.Context) { <-ctx.Done() } })
	d.Emit("r", webhook.RoomEnded, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := d.Close(ctx); err == nil {
		t.Fatal("Close reported everything delivered while an event was held")
	}
	if got := metrictest.Must(t, reg, "seatsfu_webhook_dropped_total", "reason", "shutdown"); got != 1 {
		t.Fatalf("dropped{shutdown} = %v, want 1", got)
	}
	if n := len(rcv.all()); n != 0 {
		t.Fatalf("%d held events were sent", n)
	}
}
