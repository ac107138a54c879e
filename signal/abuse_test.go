package signal_test

// One test per attack of issue 11, at a reduced but honest scale: the
// limits are lowered and then exceeded. Each asserts the attacker is
// refused with the documented code, honest clients in the attacked room
// and in another room are still served (a join and a media packet), no
// state changed, and goroutines (goleak) and the heap return to where they
// were.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/signal"
	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// Thousands of idle sockets from one IP (here 440 against a cap of 40):
// the node keeps at most the cap plus its headroom open for that IP,
// refuses the rest (WebSocket 1013, HTTP 503 + Retry-After), and /healthz
// answers the attacker's IP and everyone else throughout.
func TestAbuseIdleConnectionsPerIP(t *testing.T) {
	const perIP = 40
	a := newArena(t, signal.Limits{MaxConnsPerIP: perIP})
	addr := strings.TrimPrefix(a.env.URL, "http://")
	base := a.metric(t, "seatsfu_http_connections")
	before := a.env.RoomState(t, "stage")

	held := idle(t, addr, "127.0.0.2", perIP)
	signaltest.WaitFor(t, 5*time.Second, "the held sockets counted", func() bool {
		return a.metric(t, "seatsfu_http_connections") >= base+perIP
	})
	if code, _ := a.get(t, "127.0.0.2", http.MethodGet, "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz over the cap: %d", code)
	}
	if code, _ := a.get(t, "127.0.0.2", http.MethodGet, "/metrics"); code != http.StatusOK {
		t.Fatalf("/metrics over the cap: %d", code)
	}
	if code, retry := a.get(t, "127.0.0.2", http.MethodPost, "/whip/stage"); code != http.StatusServiceUnavailable || retry == "" {
		t.Fatalf("WHIP over the cap: %d Retry-After %q, want 503 with Retry-After", code, retry)
	}
	if code, _ := a.dialWS(t, "127.0.0.2", a.env.Token("stage", "mallory", proto.RoleAudience)); code != websocket.StatusTryAgainLater {
		t.Fatalf("WebSocket over the cap closed with %d, want 1013", code)
	}

	flood := idle(t, addr, "127.0.0.2", 400)
	// The node closes what is beyond the cap by itself, within a couple of
	// seconds, however long the attacker would hold it.
	signaltest.WaitFor(t, 10*time.Second, "the flood shed", func() bool {
		return a.metric(t, "seatsfu_http_connections") <= base+perIP
	})
	for _, ip := range []string{"127.0.0.2", "127.0.0.1"} {
		if code, _ := a.get(t, ip, http.MethodGet, "/healthz"); code != http.StatusOK {
			t.Fatalf("/healthz from %s during the flood: %d", ip, code)
		}
	}
	if after := a.env.RoomState(t, "stage"); !reflect.DeepEqual(before, after) {
		t.Fatalf("the flood changed the room: %+v → %+v", before, after)
	}
	a.served(t)
	if n := a.metric(t, "seatsfu_limit_refusals_total", "limit", "conns_per_ip"); n < 400 {
		t.Fatalf("%v refusals counted, want ≥ 400", n)
	}

	closeAll(held)
	closeAll(flood)
	signaltest.WaitFor(t, 5*time.Second, "every attacker socket forgotten", func() bool {
		return a.metric(t, "seatsfu_http_connections") <= base
	})
	a.heapBack(t)
}

// The node's own cap: once the node holds --max-conns, a newcomer from any
// IP is refused (1013 / 503) while /healthz answers it, the members already
// in keep being served, and the node takes newcomers again as soon as the
// attacker lets go.
func TestAbuseConnectionsPerNode(t *testing.T) {
	const cap = 30
	a := newArena(t, signal.Limits{MaxConns: cap})
	addr := strings.TrimPrefix(a.env.URL, "http://")
	fan := a.env.Member(t, "stage", "fan", proto.RoleAudience, nil)
	base := a.metric(t, "seatsfu_http_connections")
	held := idle(t, addr, "127.0.0.2", cap-int(base))
	signaltest.WaitFor(t, 5*time.Second, "the node full", func() bool { return a.metric(t, "seatsfu_http_connections") >= cap })

	if code, _ := a.dialWS(t, "127.0.0.3", a.env.Token("other", "newcomer", proto.RoleAudience)); code != websocket.StatusTryAgainLater {
		t.Fatalf("WebSocket on a full node closed with %d, want 1013", code)
	}
	if code, retry := a.get(t, "127.0.0.3", http.MethodPost, "/whep/other"); code != http.StatusServiceUnavailable || retry == "" {
		t.Fatalf("WHEP on a full node: %d Retry-After %q", code, retry)
	}
	if code, _ := a.get(t, "127.0.0.3", http.MethodGet, "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz on a full node: %d", code)
	}
	if _, err := fan.AllMembers(signaltest.Ctx10(t), 50); err != nil {
		t.Fatalf("a member already in is no longer served: %v", err)
	}
	closeAll(held)
	signaltest.WaitFor(t, 5*time.Second, "the attacker gone", func() bool { return a.metric(t, "seatsfu_http_connections") <= base })
	a.served(t)
	a.heapBack(t)
}

// A crowd applying with 1 KiB of extraInfo each (60 against a cap of 20):
// the extra applicants get requests_full (100103) and change nothing; the
// hosts' snapshot stays bounded, so the owner resumes through the SDK and
// pages every request.
func TestAbuseApplicantCrowd(t *testing.T) {
	const capN = 20
	a := newArena(t, signal.Limits{MaxPendingRequests: capN})
	owner := a.env.Member(t, "stage", "owner-stage", proto.RoleOwner, nil)
	extra := strings.Repeat("x", seat.MaxExtraInfo)
	refusedN := 0
	for i := range 3 * capN {
		c := dial(t, a.env, "stage", fmt.Sprintf("applicant-%d", i), proto.RoleAudience)
		call(t, c, "room.join", nil, nil)
		before := a.env.RoomState(t, "stage")
		err := c.Call(testCtx(t), "seat.apply", map[string]any{"seatIndex": -1, "timeout": 0, "extraInfo": extra}, nil)
		if i < capN {
			if err != nil {
				t.Fatalf("applicant %d refused: %v", i, err)
			}
			continue
		}
		var re *signaltest.RPCError
		if !signaltest.IsReason(err, "requests_full") || !asRPC(err, &re) || re.Code != 100103 {
			t.Fatalf("applicant %d: %v, want requests_full 100103", i, err)
		}
		if after := a.env.RoomState(t, "stage"); !reflect.DeepEqual(before, after) {
			t.Fatalf("a refused application changed the room")
		}
		refusedN++
	}
	var pending int
	_ = a.env.SFU.Room("stage").Do(func(r *seat.Room) ([]seat.Delivery, error) { pending = r.PendingCount(); return nil, nil })
	if pending != capN || refusedN != 2*capN {
		t.Fatalf("%d pending, %d refused", pending, refusedN)
	}

	// The owner's socket drops and it resumes: the snapshot is bounded.
	_ = owner.Close()
	again, err := client.Dial(signaltest.Ctx10(t), a.env.WSURL, a.env.Token("stage", "owner-stage", proto.RoleOwner))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = again.Close() })
	snap, err := again.Join(signaltest.Ctx10(t), nil)
	if err != nil {
		t.Fatalf("the owner cannot resume: %v", err)
	}
	if len(snap.Requests) != capN || snap.RequestsTotal == nil || *snap.RequestsTotal != capN {
		t.Fatalf("resumed snapshot: %d requests, total %v", len(snap.Requests), snap.RequestsTotal)
	}
	if b, _ := json.Marshal(snap); len(b) > 64<<10 {
		t.Fatalf("snapshot is %d bytes", len(b))
	}
	all, err := again.AllSeatRequests(signaltest.Ctx10(t), 7)
	if err != nil || len(all) != capN {
		t.Fatalf("paged %d requests: %v", len(all), err)
	}
	if a.metric(t, "seatsfu_limit_refusals_total", "limit", "pending_requests") != 2*capN {
		t.Fatal("refusals not counted")
	}
	// A signalling join of the owner resumes it, and a resume clears what
	// its seat publishes (seat rule 8), the owner's WHIP media included:
	// its encoder publishes again, as after any resume.
	a.env.StartWHIP(t, "stage", a.env.Token("stage", "owner-stage", proto.RoleOwner), signaltest.NewPublisher(t))
	a.served(t)
	a.heapBack(t)
}

func asRPC(err error, target **signaltest.RPCError) bool {
	e, ok := err.(*signaltest.RPCError)
	if ok {
		*target = e
	}
	return ok
}

// One token reconnecting in a loop to spam chat: the budget belongs to the
// user in the room, not to the socket, so the whole loop gets the 5
// messages of one burst (the clock is frozen) and every other attempt is
// rate_limited (100300).
func TestAbuseReconnectChatLoop(t *testing.T) {
	clock := signaltest.NewClock()
	a := newArena(t, signal.Limits{}, signaltest.WithClock(clock))
	listener := a.env.Member(t, "stage", "listener", proto.RoleAudience, nil)
	got := make(chan struct{}, 200)
	listener.OnEvent(func(ev client.Event) {
		if ev.Method == "room.message" {
			got <- struct{}{}
		}
	})
	accepted, limited := 0, 0
	for range 20 {
		c := dial(t, a.env, "stage", "spammer", proto.RoleAudience)
		call(t, c, "room.join", nil, nil)
		for range 3 {
			err := c.Call(testCtx(t), "room.sendMessage", map[string]any{"text": "buy now"}, nil)
			switch {
			case err == nil:
				accepted++
			case signaltest.IsReason(err, "rate_limited"):
				limited++
			default:
				t.Fatalf("sendMessage: %v", err)
			}
		}
		c.Close()
	}
	if accepted != 5 || limited != 55 {
		t.Fatalf("%d accepted, %d rate_limited; want 5 and 55", accepted, limited)
	}
	// The listener got exactly the accepted ones: a marker sent after the
	// loop arrives after all of them.
	marker := a.env.Member(t, "stage", "marker", proto.RoleAudience, nil)
	if err := marker.SendMessage(signaltest.Ctx10(t), "end"); err != nil {
		t.Fatal(err)
	}
	signaltest.WaitFor(t, 10*time.Second, "the marker", func() bool { return len(got) >= accepted+1 })
	if n := len(got); n != accepted+1 {
		t.Fatalf("the listener got %d messages, want %d", n, accepted+1)
	}
	a.served(t)
	a.heapBack(t)
}

// The member cap: the newcomer beyond it gets room_full (100008), members
// already in may resume, and the other room is untouched.
func TestAbuseMemberCap(t *testing.T) {
	a := newArena(t, signal.Limits{}, signaltest.WithMaxMembers(4), signaltest.WithGrace(time.Millisecond))
	// The owner is a member through its WHIP session; once the arena's
	// own check has left, three more fit.
	signaltest.WaitFor(t, 5*time.Second, "the arena's members gone", func() bool { return a.env.RoomState(t, "stage").Members == 1 })
	for i := range 3 {
		a.env.Member(t, "stage", fmt.Sprintf("m%d", i), proto.RoleAudience, nil)
	}
	before := a.env.RoomState(t, "stage")
	c := dial(t, a.env, "stage", "late", proto.RoleAudience)
	err := c.Call(testCtx(t), "room.join", nil, nil)
	var re *signaltest.RPCError
	if !asRPC(err, &re) || re.Data.Reason != "room_full" || re.Code != 100008 {
		t.Fatalf("join beyond the cap: %v", err)
	}
	if after := a.env.RoomState(t, "stage"); !reflect.DeepEqual(before, after) {
		t.Fatal("a refused join changed the room")
	}
	a.env.Member(t, "stage", "m0", proto.RoleAudience, nil) // a resume is not a newcomer
	a.rooms = []string{"other"}                             // stage is full by design
	a.served(t)
	a.heapBack(t)
}

// The room cap: a third room is overloaded (100301) for signalling and 503
// for WHIP, and the open rooms keep serving.
func TestAbuseRoomCap(t *testing.T) {
	a := newArena(t, signal.Limits{MaxRooms: 2})
	c := dial(t, a.env, "third", "owner-third", proto.RoleOwner)
	err := c.Call(testCtx(t), "room.join", nil, nil)
	var re *signaltest.RPCError
	if !asRPC(err, &re) || re.Data.Reason != "overloaded" || re.Code != 100301 {
		t.Fatalf("third room: %v", err)
	}
	p := signaltest.NewPublisher(t)
	res := a.env.PostSDP(t, "/whip/fourth", a.env.Token("fourth", "owner-fourth", proto.RoleOwner), p.Offer)
	if res.Status != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("WHIP for a fourth room: %d %q", res.Status, res.Header.Get("Retry-After"))
	}
	if n := len(a.env.SFU.Rooms()); n != 2 {
		t.Fatalf("%d rooms open", n)
	}
	a.served(t)
	a.heapBack(t)
}

// The subscriber cap: beyond it rtc.subscribe is overloaded and WHEP 503;
// a subscription that closes frees its place.
func TestAbuseSubscriberCap(t *testing.T) {
	// The arena's own check plays one WHEP at a time.
	a := newArena(t, signal.Limits{MaxSubscribers: 2})
	v1 := signaltest.NewViewer(t, 1)
	a.env.StartWHEP(t, "stage", a.env.Token("stage", "w1", proto.RoleAudience), "", v1)
	hog := dial(t, a.env, "stage", "hog", proto.RoleAudience)
	call(t, hog, "room.join", nil, nil)
	var sub struct{ SDP string }
	call(t, hog, "rtc.subscribe", map[string]any{"sdp": signaltest.NewViewer(t, 1).Offer}, &sub)
	wantReason(t, hog, "rtc.subscribe", map[string]any{"sdp": signaltest.NewViewer(t, 1).Offer}, "overloaded")
	res := a.env.PostSDP(t, "/whep/other", a.env.Token("other", "w2", proto.RoleAudience), signaltest.NewViewer(t, 1).Offer)
	if res.Status != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("WHEP over the cap: %d", res.Status)
	}
	hog.Close() // its subscription closes with it
	signaltest.WaitFor(t, 10*time.Second, "the place freed", func() bool { return a.metric(t, "seatsfu_subscribers") == 1 })
	_ = v1.PC.Close()
	signaltest.WaitFor(t, 10*time.Second, "the WHEP place freed", func() bool { return a.metric(t, "seatsfu_subscribers") == 0 })
	a.served(t)
	a.heapBack(t)
}

// WHEP sessions per user: one token cannot open players without end.
func TestAbuseWHEPPerUser(t *testing.T) {
	a := newArena(t, signal.Limits{MaxWHEPPerUser: 2})
	tok := a.env.Token("stage", "greedy", proto.RoleAudience)
	for range 2 {
		a.env.StartWHEP(t, "stage", tok, "", signaltest.NewViewer(t, 1))
	}
	res := a.env.PostSDP(t, "/whep/stage", tok, signaltest.NewViewer(t, 1).Offer)
	if res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("third WHEP of one user: %d", res.Status)
	}
	a.served(t)
	a.heapBack(t)
}

// A socket that never joins is closed (1008) after the join deadline; one
// that joined stays.
func TestAbuseJoinDeadline(t *testing.T) {
	a := newArena(t, signal.Limits{JoinTimeout: 300 * time.Millisecond})
	lurker := dial(t, a.env, "stage", "lurker", proto.RoleAudience)
	fan := a.env.Member(t, "stage", "fan", proto.RoleAudience, nil)
	code, err := lurker.Closed(testCtx(t))
	if err != nil || code != websocket.StatusPolicyViolation {
		t.Fatalf("lurker closed with %d (%v), want 1008", code, err)
	}
	if _, err := fan.AllMembers(signaltest.Ctx10(t), 10); err != nil {
		t.Fatalf("the joined socket was closed too: %v", err)
	}
	a.served(t)
	a.heapBack(t)
}

// A session outliving its token is told session.expired and closed after
// the grace; a refresh with someone else's token is token_invalid and
// changes nothing.
func TestAbuseExpiredSession(t *testing.T) {
	a := newArena(t, signal.Limits{ExpiryGrace: 200 * time.Millisecond})
	short := a.env.TokenFor(tokenID("stage", "leech"), time.Second)
	c, err := a.env.Dial(testCtx(t), short)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	call(t, c, "room.join", nil, nil)
	wait(t, c, "session.expired", nil)
	err = c.Call(testCtx(t), "session.refresh", map[string]any{"token": a.env.Token("stage", "someone", proto.RoleAudience)}, nil)
	var re *signaltest.RPCError
	if !asRPC(err, &re) || re.Data.Reason != "token_invalid" || re.Code != 100010 {
		t.Fatalf("refresh with another user's token: %v", err)
	}
	code, err := c.Closed(testCtx(t))
	if err != nil || code != websocket.StatusPolicyViolation {
		t.Fatalf("expired session closed with %d (%v), want 1008", code, err)
	}
	a.served(t)
	a.heapBack(t)
}

// Text frames that are not UTF-8 are refused with their id and relayed to
// nobody; a binary frame's error keeps its id too.
func TestAbuseInvalidUTF8(t *testing.T) {
	a := newArena(t, signal.Limits{})
	listener := a.env.Member(t, "stage", "listener", proto.RoleAudience, nil)
	got := make(chan client.Event, 10)
	listener.OnEvent(func(ev client.Event) {
		if ev.Method == "room.message" {
			got <- ev
		}
	})
	c := dial(t, a.env, "stage", "troll", proto.RoleAudience)
	call(t, c, "room.join", nil, nil)
	frame := []byte(`{"jsonrpc":"2.0","id":"u1","method":"room.sendMessage","params":{"text":"bad ` + "\xff\xfe" + ` bytes"}}`)
	r, err := c.SendRaw(testCtx(t), `"u1"`, frame)
	if err != nil || r.Error == nil || r.Error.Code != -32700 {
		t.Fatalf("invalid UTF-8: %+v %v", r.Error, err)
	}
	r, err = c.Exchange(testCtx(t), websocket.MessageBinary, `"b1"`, []byte(`{"jsonrpc":"2.0","id":"b1","method":"room.members"}`))
	if err != nil || r.Error == nil || r.Error.Code != -32600 {
		t.Fatalf("binary frame: %+v %v", r.Error, err)
	}
	call(t, c, "room.sendMessage", map[string]any{"text": "fine"}, nil)
	ev := <-got
	if !strings.Contains(string(ev.Params), `"fine"`) {
		t.Fatalf("the listener got %s first", ev.Params)
	}
	a.served(t)
	a.heapBack(t)
}

// A POST that sends its body slowly is cut at the read timeout instead of
// holding its socket.
func TestAbuseSlowBody(t *testing.T) {
	a := newArena(t, signal.Limits{HTTPReadTimeout: 500 * time.Millisecond})
	addr := strings.TrimPrefix(a.env.URL, "http://")
	conn := idle(t, addr, "127.0.0.2", 1)[0]
	_, _ = fmt.Fprintf(conn, "POST /whep/stage HTTP/1.1\r\nHost: x\r\nContent-Type: application/sdp\r\nAuthorization: Bearer %s\r\nContent-Length: 100000\r\n\r\nv=0\r\n",
		a.env.Token("stage", "slow", proto.RoleAudience))
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	for {
		if _, err := conn.Read(buf); err != nil {
			break
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the slow body held its socket %v", d)
	}
	a.served(t)
	a.heapBack(t)
}
