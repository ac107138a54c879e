package signal_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func scrape(t *testing.T, env *signaltest.Env) string {
	t.Helper()
	resp, err := http.Get(env.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRequestRateLimitPerSocket(t *testing.T) {
	clock := signaltest.NewClock()
	env := signaltest.Start(t, signaltest.WithClock(clock))
	c, _ := join(t, env, "r1", "boss", proto.RoleOwner, nil) // 1 of the burst of 100
	for i := 0; i < 99; i++ {
		call(t, c, "room.members", nil, nil)
	}
	wantReason(t, c, "room.members", nil, "rate_limited")
	wantReason(t, c, "no.such", nil, "rate_limited") // every frame counts
	clock.Advance(time.Second)                       // 50 more
	for i := 0; i < 50; i++ {
		call(t, c, "room.members", nil, nil)
	}
	wantReason(t, c, "room.members", nil, "rate_limited")
	if !contains(scrape(t, env), `seatsfu_signal_requests_total{method="unknown",outcome="rate_limited"} 1`) {
		t.Fatal("unknown methods are not bucketed as unknown")
	}
}

func TestMessagesRoutedAndRateLimited(t *testing.T) {
	clock := signaltest.NewClock()
	env := signaltest.Start(t, signaltest.WithClock(clock))
	owner, _ := join(t, env, "r1", "boss", proto.RoleOwner, nil)
	ann, _ := join(t, env, "r1", "ann", proto.RoleAudience, nil)
	bob, _ := join(t, env, "r1", "bob", proto.RoleAudience, nil)

	call(t, ann, "room.sendMessage", map[string]any{"text": "hello"}, nil)
	call(t, ann, "room.sendMessage", map[string]any{"cmd": "like", "data": "3"}, nil)
	for _, c := range []*signaltest.Conn{owner, bob} {
		n := wait(t, c, "room.message", func(p json.RawMessage) bool {
			var m struct {
				From proto.User
				Text string
			}
			return json.Unmarshal(p, &m) == nil && m.From.UserID == "ann" && m.Text == "hello"
		})
		if strings.Contains(string(n.Params), `"cmd"`) {
			t.Fatalf("text message carries cmd: %s", n.Params)
		}
		wait(t, c, "room.message", func(p json.RawMessage) bool {
			var m struct{ Cmd, Data string }
			return json.Unmarshal(p, &m) == nil && m.Cmd == "like" && m.Data == "3"
		})
	}
	call(t, ann, "room.members", nil, nil)
	if ann.Count("room.message") != 0 {
		t.Fatal("a message was echoed to its sender")
	}
	for i := 0; i < 3; i++ { // 5 a second: 2 sent, 3 more pass
		call(t, ann, "room.sendMessage", map[string]any{"text": "x"}, nil)
	}
	wantReason(t, ann, "room.sendMessage", map[string]any{"text": "x"}, "rate_limited")
	call(t, bob, "room.sendMessage", map[string]any{"text": "mine"}, nil) // per user
	clock.Advance(time.Second)
	call(t, ann, "room.sendMessage", map[string]any{"text": "again"}, nil)
}

// room.stats goes out at most once a second and only when the count moved.
func TestRoomStatsCoalesced(t *testing.T) {
	env := signaltest.Start(t)
	owner, _ := join(t, env, "r1", "boss", proto.RoleOwner, nil)
	for _, u := range []string{"a", "b", "c", "d", "e", "f"} {
		join(t, env, "r1", u, proto.RoleAudience, nil)
	}
	wait(t, owner, "room.stats", func(p json.RawMessage) bool { return string(p) == `{"memberCount":7}` })
	var stats []signaltest.Notification
	for _, n := range owner.Notes() {
		if n.Method == "room.stats" {
			stats = append(stats, n)
		}
	}
	if len(stats) > 3 {
		t.Fatalf("%d room.stats for one burst of joins", len(stats))
	}
	for i := 1; i < len(stats); i++ {
		if gap := stats[i].At.Sub(stats[i-1].At); gap < 900*time.Millisecond {
			t.Fatalf("room.stats %v apart", gap)
		}
		if string(stats[i].Params) == string(stats[i-1].Params) {
			t.Fatalf("room.stats repeated an unchanged count %s", stats[i].Params)
		}
	}
}

func TestHealthMetricsDemoToken(t *testing.T) {
	env := signaltest.Start(t)
	if code, _ := get(t, env.URL+"/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	if code, _ := get(t, env.URL+"/demo/token?room=r&user=u&role=owner"); code != 404 {
		t.Fatalf("demo token outside dev mode: %d", code)
	}
	if code, _ := get(t, env.URL+"/"); code != 404 {
		t.Fatalf("/ without a demo page: %d", code)
	}
	body := scrape(t, env)
	for _, want := range []string{"seatsfu_participants", "seatsfu_join_duration_seconds", "seatsfu_rooms"} {
		if !contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	dev := signaltest.Start(t, signaltest.WithDemo(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("demo page"))
	})))
	if code, body := get(t, dev.URL+"/"); code != 200 || body != "demo page" {
		t.Fatalf("demo page %d %q", code, body)
	}
	for _, bad := range []string{"room=&user=u&role=owner", "room=r&user=u&role=king", "room=r/1&user=u&role=owner", "room=r&role=owner"} {
		if code, _ := get(t, dev.URL+"/demo/token?"+bad); code != 400 {
			t.Errorf("demo token %q: %d, want 400", bad, code)
		}
	}
	code, body := get(t, dev.URL+"/demo/token?room=r1&user=boss&role=owner")
	var tok struct{ Token string }
	if code != 200 || json.Unmarshal([]byte(body), &tok) != nil || tok.Token == "" {
		t.Fatalf("demo token %d %q", code, body)
	}
	c, err := dev.Dial(testCtx(t), tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var snap proto.Snapshot
	call(t, c, "room.join", nil, &snap)
	if snap.Self.UserID != "boss" || snap.Self.Role != proto.RoleOwner {
		t.Fatalf("demo token identity %+v", snap.Self)
	}
}

func TestShutdownEndsRoomsAndRefusesSockets(t *testing.T) {
	env := signaltest.Start(t)
	owner, _ := join(t, env, "r1", "boss", proto.RoleOwner, nil)
	ann, _ := join(t, env, "r1", "ann", proto.RoleAudience, nil)
	idle := dial(t, env, "r2", "zed", proto.RoleAudience) // never joined

	start := time.Now()
	if err := env.Server.Shutdown(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
	for _, c := range []*signaltest.Conn{owner, ann} {
		wait(t, c, "room.ended", reasonIs(proto.ServerShutdown))
	}
	for _, c := range []*signaltest.Conn{owner, ann, idle} {
		if _, err := c.Closed(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := env.Dial(testCtx(t), env.Token("r1", "late", proto.RoleOwner)); err == nil || !contains(err.Error(), "503") {
		t.Fatalf("dial after shutdown: %v", err)
	}
	if len(env.SFU.Rooms()) != 0 {
		t.Fatal("rooms left open after shutdown")
	}
}
