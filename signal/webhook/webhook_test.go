package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatsfu/seatsfu/internal/metrictest"
	"github.com/seatsfu/seatsfu/signal/webhook"
	"github.com/seatsfu/seatsfu/signal/webhook/webhooktest"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func start(t *testing.T, cfg webhook.Config) (*webhook.Dispatcher, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Secret, cfg.Registerer = secret, reg
	d, err := webhook.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Tests that leave events failing on purpose would wait out the
		// whole drain; 200 ms is plenty for the ones that drained already.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_ = d.Close(ctx)
	})
	return d, reg
}

// Events of many rooms, sent by several workers at once, still arrive in
// order within each room, each signed over exactly its body.
func TestOrderPerRoomAndSignature(t *testing.T) {
	rcv := newReceiver(t, nil)
	d, reg := start(t, webhook.Config{URLs: []string{rcv.srv.URL}, Workers: 4})
	const rooms, perRoom = 5, 40
	for i := range perRoom {
		for r := range rooms {
			d.Emit(fmt.Sprintf("room%d", r), webhook.SeatTaken, map[string]int{"n": i})
		}
	}
	eventually(t, "every event", func() bool { return len(rcv.acked()) == rooms*perRoom })
	next := map[string]float64{}
	ids := map[string]bool{}
	for _, g := range rcv.acked() {
		n := g.env.Data.(map[string]any)["n"].(float64)
		if n != next[g.env.RoomID] {
			t.Fatalf("room %s: got event %v, want %v", g.env.RoomID, n, next[g.env.RoomID])
		}
		next[g.env.RoomID]++
		if ids[g.env.ID] {
			t.Fatalf("id %s twice", g.env.ID)
		}
		ids[g.env.ID] = true
		ts := strings.TrimPrefix(strings.Split(g.signature, ",")[0], "t=")
		var unix int64
		fmt.Sscan(ts, &unix)
		if webhook.Sign(secret, unix, g.raw) != g.signature {
			t.Fatalf("signature %q does not match the body", g.signature)
		}
		tampered := append([]byte(nil), g.raw...)
		tampered[len(tampered)-2] ^= 1
		if webhook.Sign(secret, unix, tampered) == g.signature {
			t.Fatal("a tampered body has the same signature")
		}
	}
	if got := metrictest.Must(t, reg, "seatsfu_webhook_delivered_total"); got != rooms*perRoom {
		t.Fatalf("delivered_total = %v", got)
	}
}

// A receiver that answers 500 for a minute and then 200 gets every event,
// each acknowledged exactly once, in order per room; the retries follow
// 1 s, 2 s, 4 s … capped at 30 s with jitter; and the whole minute passes
// on the injected clock in well under a second of real time.
func TestRetriesThroughAMinuteOfErrors(t *testing.T) {
	clock := webhooktest.NewClock(time.Unix(1_800_000_000, 0))
	down := clock.Now().Add(time.Minute)
	rcv := newReceiver(t, func(webhook.Envelope) int {
		if clock.Now().Before(down) {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	d, reg := start(t, webhook.Config{URLs: []string{rcv.srv.URL}, Clock: clock, Jitter: func() float64 { return 0.999 }})
	realStart := time.Now()
	const rooms, perRoom = 3, 10
	for i := range perRoom {
		for r := range rooms {
			d.Emit(fmt.Sprintf("room%d", r), webhook.MemberJoined, map[string]int{"n": i})
		}
	}
	for len(rcv.acked()) < rooms*perRoom {
		if time.Since(realStart) > 10*time.Second {
			t.Fatalf("only %d of %d acknowledged", len(rcv.acked()), rooms*perRoom)
		}
		if !clock.FireNext() {
			time.Sleep(100 * time.Microsecond) // attempts in flight
		}
	}
	if elapsed := time.Since(realStart); elapsed > time.Second {
		t.Errorf("a minute of retries took %v of real time", elapsed)
	}
	seen := map[string]int{}
	next := map[string]float64{}
	for _, g := range rcv.acked() {
		seen[g.env.ID]++
		n := g.env.Data.(map[string]any)["n"].(float64)
		if n != next[g.env.RoomID] {
			t.Fatalf("room %s out of order: %v, want %v", g.env.RoomID, n, next[g.env.RoomID])
		}
		next[g.env.RoomID]++
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s acknowledged %d times", id, n)
		}
	}
	if got := metrictest.Must(t, reg, "seatsfu_webhook_attempts_total", "result", "http_error"); got < 7 {
		t.Errorf("only %v failed attempts in a minute of errors", got)
	}
	if got := metrictest.Must(t, reg, "seatsfu_webhook_dropped_total", "reason", "gave_up"); got != 0 {
		t.Errorf("gave up on %v events", got)
	}
}

func TestBackoffSchedule(t *testing.T) {
	clock := webhooktest.NewClock(time.Unix(1_800_000_000, 0))
	rcv := newReceiver(t, func(webhook.Envelope) int { return http.StatusServiceUnavailable })
	d, reg := start(t, webhook.Config{URLs: []string{rcv.srv.URL}, Clock: clock, Jitter: func() float64 { return 0.999 }})
	d.Emit("r", webhook.RoomStarted, nil)
	d.Emit("r", webhook.RoomEnded, nil) // waits behind the first
	var delays []time.Duration
	eventually(t, "the first retry timer", func() bool { return len(clock.Pending()) == 1 })
	for metrictest.Must(t, reg, "seatsfu_webhook_dropped_total", "reason", "gave_up") == 0 {
		delays = append(delays, clock.Pending()[0])
		clock.FireNext()
		if len(delays) > 100 {
			t.Fatal("never gave up")
		}
		// Settled: the next retry is scheduled, or the event was given up
		// on (counted before the room's next event may go, so a timer of
		// that next event is never taken for this one's).
		eventually(t, "the retry's attempt settled", func() bool {
			return metrictest.Must(t, reg, "seatsfu_webhook_dropped_total", "reason", "gave_up") == 1 ||
				len(clock.Pending()) == 1
		})
	}
	if delays[0] > time.Second || delays[0] < 500*time.Millisecond {
		t.Errorf("first retry after %v, want within 1 s", delays[0])
	}
	var total time.Duration
	for i, dl := range delays {
		total += dl
		if dl > webhook.MaxRetry {
			t.Errorf("retry %d after %v, over the cap", i+1, dl)
		}
		if i > 0 && dl < delays[i-1] && delays[i-1] < webhook.MaxRetry-time.Second {
			t.Errorf("retry %d after %v, shorter than the one before (%v)", i+1, dl, delays[i-1])
		}
	}
	if total < webhook.DefaultRetryFor {
		t.Errorf("gave up after %v of retries, want at least %v", total, webhook.DefaultRetryFor)
	}
	// The room's next event was held back until the first was given up on.
	all := rcv.all()
	for _, g := range all[:len(all)-1] {
		if g.env.Event != webhook.RoomStarted {
			t.Fatalf("%s was sent before the event ahead of it was settled", g.env.Event)
		}
	}
	eventually(t, "the second event", func() bool {
		all := rcv.all()
		return all[len(all)-1].env.Event == webhook.RoomEnded
	})
}

// A receiver that hangs: Emit stays instant, and what does not fit in the
// bounded queue is dropped and counted.
func TestHangingReceiverOverflowIsCounted(t *testing.T) {
	release := make(chan struct{})
	hang := newReceiver(t, func(webhook.Envelope) int { <-release; return http.StatusOK })
	d, reg := start(t, webhook.Config{URLs: []string{hang.srv.URL}, Workers: 1, QueueSize: 10, RoomQueueSize: 4})
	// Cleanups run last-first: release the receiver before Close drains
	// and before the test server closes.
	t.Cleanup(func() { close(release) })
	// Emit never waits for the receiver: were it to, this loop would hang
	// with it. Its cost is timed too, as a median, so a scheduler pause on
	// a loaded box does not count as Emit's.
	var took []time.Duration
	for i := range 30 {
		t0 := time.Now()
		d.Emit(fmt.Sprintf("room%d", i%5), webhook.SeatLeft, nil)
		took = append(took, time.Since(t0))
	}
	// 5 rooms × at most 4 each, at most 10 in all: 10 kept, 20 dropped.
	if got := metrictest.Must(t, reg, "seatsfu_webhook_dropped_total", "reason", "queue_full"); got != 20 {
		t.Errorf("dropped %v, want 20", got)
	}
	if got := metrictest.Must(t, reg, "seatsfu_webhook_queue_events"); got != 10 {
		t.Errorf("queued %v, want 10", got)
	}
	slices.Sort(took)
	if median := took[len(took)/2]; median > time.Millisecond {
		t.Errorf("Emit's median is %v with a hanging receiver", median)
	}
}

func TestNoURLIsANoop(t *testing.T) {
	d, err := webhook.New(webhook.Config{})
	if err != nil || d != nil {
		t.Fatalf("New without URLs = %v, %v", d, err)
	}
	d.Emit("r", webhook.RoomStarted, nil) // a nil dispatcher drops silently
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := webhook.New(webhook.Config{URLs: []string{"ftp://x"}, Secret: secret}); err == nil {
		t.Fatal("an ftp URL was accepted")
	}
}
