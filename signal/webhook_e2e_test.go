package signal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatsfu/seatsfu/internal/metrictest"
	"github.com/seatsfu/seatsfu/signal"
	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
	"github.com/seatsfu/seatsfu/signal/webhook"
	"github.com/seatsfu/seatsfu/signal/webhook/webhooktest"
)

// hookReceiver records verified webhooks by room.
type hookReceiver struct {
	t      *testing.T
	secret func() []byte
	down   func() bool      // answer 500 (and record nothing) while it says so
	now    func() time.Time // the receiver's clock; nil is time.Now
	since  time.Time        // with now: the clock's start
	mu     sync.Mutex
	byRoom map[string][]client.WebhookEvent
	failed int
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if h.down != nil && h.down() {
		h.mu.Lock()
		h.failed++
		h.mu.Unlock()
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	sig := r.Header.Get(client.WebhookSignatureHeader)
	now, tolerance := time.Now(), time.Minute
	if h.now != nil {
		// An injected clock jumps to the next retry of one room while
		// another room's attempt is in flight, so "within a minute of now"
		// says nothing here: check the signature, and that it was made at
		// an instant the clock has already passed through.
		now, tolerance = h.now(), 0
		if at := signedAt(sig); at.After(now) || at.Before(h.since) {
			h.t.Errorf("webhook signed at %v, outside the clock's %v .. %v", at, h.since, now)
		}
	}
	if err := client.VerifyWebhook(h.secret(), sig, body, tolerance, now); err != nil {
		h.t.Errorf("webhook signature: %v", err)
	}
	tampered := []byte(strings.Replace(string(body), `"roomId":"`, `"roomId":"x`, 1))
	if client.VerifyWebhook(h.secret(), sig, tampered, time.Minute, now) == nil {
		h.t.Error("a tampered webhook verified")
	}
	var ev client.WebhookEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		h.t.Errorf("webhook body %s: %v", body, err)
	}
	h.mu.Lock()
	h.byRoom[ev.RoomID] = append(h.byRoom[ev.RoomID], ev)
	h.mu.Unlock()
}

// summary renders a room's events as "event detail" lines.
func (h *hookReceiver) summary(room string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, ev := range h.byRoom[room] {
		var d struct {
			User      struct{ UserID string }
			Owner     struct{ UserID string }
			Request   struct{ Kind string }
			SeatIndex *int
			Reason    string
			Outcome   string
			Title     string
		}
		_ = json.Unmarshal(ev.Data, &d)
		line := ev.Event
		switch ev.Event {
		case webhook.RoomStarted:
			line += " " + d.Owner.UserID + " " + d.Title
		case webhook.RoomEnded:
			line += " " + d.Reason
		case webhook.MemberJoined:
			line += " " + d.User.UserID
		case webhook.MemberLeft:
			line += " " + d.User.UserID + " " + d.Reason
		case webhook.SeatTaken:
			line += fmt.Sprintf(" %s %d", d.User.UserID, *d.SeatIndex)
		case webhook.SeatLeft:
			line += fmt.Sprintf(" %s %d %s", d.User.UserID, *d.SeatIndex, d.Reason)
		case webhook.RequestEnded:
			line += " " + d.Request.Kind + " " + d.Outcome
		}
		out = append(out, line)
	}
	return out
}

// startWithWebhooks starts an edge whose webhooks go to h; the dispatcher
// is closed after the edge.
func startWithWebhooks(t *testing.T, h http.Handler, cfg webhook.Config, opts ...signaltest.Option) (*signaltest.Env, *prometheus.Registry) {
	t.Helper()
	rcv := httptest.NewServer(h)
	t.Cleanup(rcv.Close)
	var env *signaltest.Env
	reg := prometheus.NewRegistry()
	var d *webhook.Dispatcher
	opts = append(opts, signaltest.WithSignalConfig(func(c *signal.Config) {
		cfg.URLs, cfg.Secret, cfg.Registerer = []string{rcv.URL}, c.Secret, reg
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		var err error
		if d, err = webhook.New(cfg); err != nil {
			t.Fatal(err)
		}
		c.Webhooks = d
	}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = d.Close(ctx)
	})
	env = signaltest.Start(t, opts...)
	return env, reg
}

// playScript runs one session in two rooms that causes every §11 event a
// single node sends of its own (co-host and battle events come from §10's
// controller).
func playScript(t *testing.T, env *signaltest.Env) {
	t.Helper()
	olive, _ := join(t, env, "r", "olive", proto.RoleOwner, map[string]any{"create": map[string]any{"title": "T"}})
	join(t, env, "s", "dave", proto.RoleOwner, nil)
	ann, _ := join(t, env, "r", "ann", proto.RoleAudience, nil)
	call(t, ann, "seat.apply", map[string]any{"seatIndex": -1, "timeout": 0}, nil)
	call(t, olive, "seat.acceptApplication", map[string]any{"userId": "ann"}, nil)
	call(t, ann, "seat.move", map[string]any{"seatIndex": 2}, nil)
	call(t, ann, "seat.leave", nil, nil)
	call(t, ann, "room.leave", nil, nil)
	bob, _ := join(t, env, "r", "bob", proto.RoleAudience, nil)
	call(t, bob, "seat.apply", map[string]any{"seatIndex": 1, "timeout": 0}, nil)
	call(t, olive, "seat.rejectApplication", map[string]any{"userId": "bob"}, nil)
	join(t, env, "r", "cara", proto.RoleAudience, nil)
	apiWant(t, env, "POST", "/v1/api/rooms/r/members/cara/kickOut", "", 200, "")
	apiWant(t, env, "POST", "/v1/api/rooms/s/end", "", 200, "")
	call(t, olive, "room.end", nil, nil)
}

// scriptEvents is what playScript must produce, per room, in order.
var scriptEvents = map[string][]string{
	"r": {
		"room.started olive T", "member.joined olive", "seat.taken olive 0",
		"member.joined ann", "request.ended apply accepted", "seat.taken ann 1",
		"seat.left ann 1 moved", "seat.taken ann 2", "seat.left ann 2 left", "member.left ann left",
		"member.joined bob", "request.ended apply rejected",
		"member.joined cara", "member.left cara kicked",
		"seat.left olive 0 room_ended", "room.ended ended_by_owner", // bob, present at the end, gets no member.left
	},
	"s": {"room.started dave ", "member.joined dave", "seat.taken dave 0", "seat.left dave 0 room_ended", "room.ended ended_by_service"},
}

// checkScript compares what the receiver acknowledged with scriptEvents and
// checks every event came once, with an id and a time.
func checkScript(t *testing.T, rcv *hookReceiver) {
	t.Helper()
	for room, w := range scriptEvents {
		if got := rcv.summary(room); !slices.Equal(got, w) {
			t.Errorf("room %s's webhooks:\n got  %q\n want %q", room, got, w)
		}
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	ids := map[string]bool{}
	for _, evs := range rcv.byRoom {
		for _, ev := range evs {
			if ids[ev.ID] || ev.ID == "" || ev.CreatedAt == 0 {
				t.Fatalf("event %+v: id repeated or missing, or no createdAt", ev)
			}
			ids[ev.ID] = true
		}
	}
}

func (h *hookReceiver) complete() bool {
	for room, w := range scriptEvents {
		if len(h.summary(room)) < len(w) {
			return false
		}
	}
	return true
}

// A scripted session in two rooms: every §11 event of a room arrives, in
// the room's order, signed (a tampered body fails the SDK's check).
func TestWebhooksOfAScriptedSession(t *testing.T) {
	rcv := &hookReceiver{t: t, byRoom: map[string][]client.WebhookEvent{}}
	var env *signaltest.Env
	rcv.secret = func() []byte { return env.Secret }
	env, _ = startWithWebhooks(t, rcv, webhook.Config{})
	playScript(t, env)
	eventually(t, "every room's last event", rcv.complete)
	checkScript(t, rcv)
}

// The same session while the receiver answers 500 for a minute: once it
// is back, every event arrives, in order per room, each acknowledged
// exactly once. The minute passes on the dispatcher's injected clock, so
// the test takes well under a second of real time.
func TestWebhooksSurviveAMinuteOfReceiverErrors(t *testing.T) {
	clock := webhooktest.NewClock(time.Now())
	back := clock.Now().Add(time.Minute)
	rcv := &hookReceiver{t: t, byRoom: map[string][]client.WebhookEvent{}}
	rcv.down = func() bool { return clock.Now().Before(back) }
	rcv.now, rcv.since = clock.Now, clock.Now().Truncate(time.Second)
	var env *signaltest.Env
	rcv.secret = func() []byte { return env.Secret }
	env, reg := startWithWebhooks(t, rcv, webhook.Config{Clock: clock})
	playScript(t, env)
	start := time.Now()
	for !rcv.complete() {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("only part of the session arrived: %q / %q", rcv.summary("r"), rcv.summary("s"))
		}
		if !clock.FireNext() {
			time.Sleep(100 * time.Microsecond) // attempts in flight
		}
	}
	rcv.mu.Lock()
	failed := rcv.failed
	rcv.mu.Unlock()
	t.Logf("a minute of 500s (%d refused attempts) and the recovery took %v of real time", failed, time.Since(start))
	if time.Since(start) > time.Second {
		t.Errorf("the minute of retries took %v of real time", time.Since(start))
	}
	if !clock.Now().After(back) || failed < 2 {
		t.Fatalf("the receiver was never down: %d failures, clock at %v", failed, clock.Now())
	}
	checkScript(t, rcv)
	if got := metrictest.Must(t, reg, "seatsfu_webhook_dropped_total", "reason", "gave_up"); got != 0 {
		t.Errorf("%v events given up", got)
	}
}

// A receiver that never answers does not slow the rooms: a seat change
// reaches a client as fast as on a server without webhooks (the medians of
// interleaved runs differ by at most 5 ms), and what its bounded queue
// cannot hold is counted as dropped.
func TestHangingWebhookReceiverDoesNotDelaySeatChanges(t *testing.T) {
	release := make(chan struct{})
	hang := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release })
	hooked, reg := startWithWebhooks(t, hang, webhook.Config{Workers: 1, QueueSize: 20})
	t.Cleanup(func() { close(release) })
	plain := signaltest.Start(t)

	measure := func(env *signaltest.Env) func() time.Duration {
		owner, _ := join(t, env, "r", "olive", proto.RoleOwner, nil)
		admin, _ := join(t, env, "r", "adam", proto.RoleAdmin, nil)
		base := owner.Count("seat.changed")
		return func() time.Duration {
			t0 := time.Now()
			method := "seat.take"
			var params any = map[string]any{"seatIndex": 1}
			if base%2 == 1 {
				method, params = "seat.leave", nil
			}
			call(t, admin, method, params, nil)
			base++
			var n signaltest.Notification
			eventually(t, "seat.changed", func() bool {
				notes := owner.Notes()
				var seen int
				for _, x := range notes {
					if x.Method == "seat.changed" {
						seen++
						if seen == base {
							n = x
							return true
						}
					}
				}
				return false
			})
			return n.At.Sub(t0)
		}
	}
	withHook, without := measure(hooked), measure(plain)
	var a, b []time.Duration
	for range 40 {
		a = append(a, withHook())
		b = append(b, without())
	}
	slices.Sort(a)
	slices.Sort(b)
	ma, mb := a[len(a)/2], b[len(b)/2]
	t.Logf("seat change → client, median of 40: %v with a hanging webhook receiver, %v without", ma, mb)
	if ma-mb > 5*time.Millisecond {
		t.Errorf("a hanging receiver delays seat changes by %v (median), more than 5 ms", ma-mb)
	}
	if dropped := metrictest.Must(t, reg, "seatsfu_webhook_dropped_total", "reason", "queue_full"); dropped == 0 {
		t.Error("80 events for a hung receiver with a 20-event queue: nothing counted as dropped")
	}
}

// signedAt is the t= instant of a Seatsfu-Signature header (zero if none).
func signedAt(header string) time.Time {
	for _, part := range strings.Split(header, ",") {
		if v, ok := strings.CutPrefix(part, "t="); ok {
			if sec, err := strconv.ParseInt(v, 10, 64); err == nil {
				return time.Unix(sec, 0)
			}
		}
	}
	return time.Time{}
}
