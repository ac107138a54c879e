package demo

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/seatsfu/seatsfu/internal/redistest"
	"github.com/seatsfu/seatsfu/signal"
	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
	"github.com/seatsfu/seatsfu/signal/token"
)

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Token lifetime (PROTOCOL.md §3.4) through the browser SDK: three members
// whose tokens expire together. One has a tokenSource with a good token and
// stays past the grace; one has none and is closed with 1008 after the
// grace; one's tokenSource gives a token for someone else, which the server
// refuses, and the SDK says so with "refreshfailed" before the close.
func TestSDKRefreshesExpiringToken(t *testing.T) {
	const grace = 500 * time.Millisecond
	env := signaltest.Start(t, signaltest.WithDemo(Handler()), signaltest.WithLimits(signal.Limits{ExpiryGrace: grace}))
	b := newBrowser(t)
	tb := b.newTab("expiry")
	tb.do("open the page", chromedp.Navigate(env.URL))
	tb.waitFor("the app", `document.body.dataset.ready === 'true'`, 10*time.Second)

	id := func(user string, role proto.Role) token.Identity {
		return token.Identity{UserID: user, Room: "exp", Name: user, Role: role}
	}
	// Minted in this order, the kept member's token expires first (or in
	// the same second): when the dropped one is closed, the kept one's
	// grace is over too.
	kept := env.TokenFor(id("kept", proto.RoleOwner), 2*time.Second)
	dropped := env.TokenFor(id("dropped", proto.RoleAudience), 2*time.Second)
	refused := env.TokenFor(id("refused", proto.RoleAudience), 2*time.Second)
	fresh := env.TokenFor(id("kept", proto.RoleOwner), time.Hour)
	other := env.TokenFor(id("someone-else", proto.RoleAudience), time.Hour)

	script := fmt.Sprintf(`(async () => {
	const { Client } = await import('/sdk/seatsfu.js');
	const fresh = %s;
	const kept = new Client({ token: %s, tokenSource: async () => fresh });
	const dropped = new Client({ token: %s });
	const refused = new Client({ token: %s, tokenSource: async () => %s });
	const closed = (c) => new Promise((r) => c.addEventListener('close', (e) => r(e.detail.code)));
	let keptExpired = 0, keptFailed = null, keptClosed = null;
	kept.addEventListener('session.expired', () => keptExpired++);
	kept.addEventListener('refreshfailed', (e) => { keptFailed = e.detail.error.message; });
	kept.addEventListener('close', (e) => { keptClosed = e.detail.code; });
	const refusedWhy = new Promise((r) => refused.addEventListener('refreshfailed', (e) => r(e.detail.error.reason)));
	const droppedClosed = closed(dropped), refusedClosed = closed(refused);
	await kept.connect();
	await kept.join({ maxSeats: 4 });
	await dropped.connect();
	await dropped.join();
	await refused.connect();
	await refused.join();
	const out = { droppedClose: await droppedClosed, refusedWhy: await refusedWhy, refusedClose: await refusedClosed };
	out.keptExpired = keptExpired;
	out.keptFailed = keptFailed;
	out.keptClosed = keptClosed;
	out.keptConnected = kept.connected;
	out.keptToken = kept.token === fresh;
	out.keptCalls = Array.isArray((await kept.seatRequests()).requests);
	kept.close();
	return out;
})()`, jsString(fresh), jsString(kept), jsString(dropped), jsString(refused), jsString(other))

	var got struct {
		DroppedClose  int     `json:"droppedClose"`
		RefusedWhy    string  `json:"refusedWhy"`
		RefusedClose  int     `json:"refusedClose"`
		KeptExpired   int     `json:"keptExpired"`
		KeptFailed    *string `json:"keptFailed"`
		KeptClosed    *int    `json:"keptClosed"`
		KeptConnected bool    `json:"keptConnected"`
		KeptToken     bool    `json:"keptToken"`
		KeptCalls     bool    `json:"keptCalls"`
	}
	if err := tb.eval(script, &got); err != nil {
		tb.fail("running the expiry script: %v", err)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"without tokenSource: closed with", got.DroppedClose, proto.CloseTokenExpired},
		{"refused refresh: reason", got.RefusedWhy, string(proto.ReasonTokenInvalid)},
		{"refused refresh: closed with", got.RefusedClose, proto.CloseTokenExpired},
		{"kept: session.expired seen", got.KeptExpired, 1},
		{"kept: refresh failure", got.KeptFailed, (*string)(nil)},
		{"kept: close event", got.KeptClosed, (*int)(nil)},
		{"kept: connected past the grace", got.KeptConnected, true},
		{"kept: holds the fresh token", got.KeptToken, true},
		{"kept: calls still answered", got.KeptCalls, true},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.what, c.got, c.want)
		}
	}
	if errs := tb.errors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}

// Paged requests (PROTOCOL.md §3.4): with the pending cap raised to 150 and
// 150 applications pending, an admin's snapshot lists 100 and says 150 in
// requestsTotal; seatRequests pages 40 at a time and allSeatRequests
// returns all 150, each once, in the order they were made.
func TestSDKPagesSeatRequests(t *testing.T) {
	const n = 150
	env := signaltest.Start(t, signaltest.WithDemo(Handler()), signaltest.WithLimits(signal.Limits{MaxPendingRequests: n}))
	env.Member(t, "busy", "owner", proto.RoleOwner, &client.CreateOptions{MaxSeats: 4})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprintf("fan%03d", i)
		c := env.Member(t, "busy", want[i], proto.RoleAudience, nil)
		if _, err := c.ApplyForSeat(ctx, -1, time.Hour, ""); err != nil {
			t.Fatalf("%s applies: %v", want[i], err)
		}
	}

	b := newBrowser(t)
	tb := b.newTab("paging")
	tb.do("open the page", chromedp.Navigate(env.URL))
	tb.waitFor("the app", `document.body.dataset.ready === 'true'`, 10*time.Second)
	script := fmt.Sprintf(`(async () => {
	const { Client } = await import('/sdk/seatsfu.js');
	const c = new Client({ token: %s });
	await c.connect();
	const snap = await c.join();
	const first = await c.seatRequests({ limit: 40 });
	const all = await c.allSeatRequests({ pageSize: 40 });
	c.close();
	return { listed: snap.requests.length, total: c.requestsTotal, firstPage: first.requests.length,
		more: first.nextCursor !== '', all: all.map((r) => r.from.userId) };
})()`, jsString(env.Token("busy", "ada", proto.RoleAdmin)))
	var got struct {
		Listed    int      `json:"listed"`
		Total     int      `json:"total"`
		FirstPage int      `json:"firstPage"`
		More      bool     `json:"more"`
		All       []string `json:"all"`
	}
	if err := tb.eval(script, &got); err != nil {
		tb.fail("running the paging script: %v", err)
	}
	if got.Listed != 100 || got.Total != n {
		t.Errorf("snapshot lists %d requests with requestsTotal %d, want 100 and %d", got.Listed, got.Total, n)
	}
	if got.FirstPage != 40 || !got.More {
		t.Errorf("first page: %d requests, more %v; want 40 and more", got.FirstPage, got.More)
	}
	if !reflect.DeepEqual(got.All, want) {
		t.Errorf("allSeatRequests gave %d requests %v, want the %d in creation order", len(got.All), got.All, n)
	}
}

// Failover (PROTOCOL.md §12): the browser SDK, given the cluster's nodes by
// a function over GET /v1/nodes, joins as a room's owner through one node;
// that node stops; the SDK reconnects through the other within the grace,
// resumes seat 0, and the room lives on there.
func TestSDKFailsOverToAnotherNode(t *testing.T) {
	rd := redistest.Start(t)
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	const grace = 5 * time.Second
	a := signaltest.StartNode(t, rd.URL(), secret, signaltest.WithGrace(grace), signaltest.WithDemo(Handler()))
	b := signaltest.StartNode(t, rd.URL(), secret, signaltest.WithGrace(grace), signaltest.WithDemo(Handler()))

	br := newBrowser(t)
	tb := br.newTab("failover")
	// The SDK itself is the page: the demo page's CSP (connect-src 'self')
	// allows sockets to its own node only; an app's page lists its nodes.
	tb.do("open the SDK at node a", chromedp.Navigate(a.URL+"/sdk/seatsfu.js"))
	tb.waitFor("both nodes listed", `(async () => (await (await import('/sdk/seatsfu.js')).listNodes()).length === 2)()`, 10*time.Second)

	script := fmt.Sprintf(`(async () => {
	const { Client, listNodes } = await import('/sdk/seatsfu.js');
	const c = new Client({ token: %s, nodes: () => listNodes(), graceMs: %d });
	window.fo = { c, events: [] };
	for (const ev of ['reconnecting', 'failover', 'close']) c.addEventListener(ev, (e) => window.fo.events.push(ev));
	c.addEventListener('failover', (e) => { window.fo.url = e.detail.url; window.fo.seat0 = e.detail.snapshot.seats[0].user?.userId; });
	await c.connect();
	await c.join({ maxSeats: 4 });
	return c.url;
})()`, jsString(a.Token("fo", "olivia", proto.RoleOwner)), grace.Milliseconds())
	var first string
	if err := tb.eval(script, &first); err != nil {
		tb.fail("joining through node a: %v", err)
	}
	// /v1/nodes lists the nodes in no set order: the one joined through
	// first is the one that stops.
	switch first {
	case a.WSURL:
	case b.WSURL:
		a, b = b, a
	default:
		t.Fatalf("joined through %s, want one of the nodes (%s, %s)", first, a.WSURL, b.WSURL)
	}

	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Server.Shutdown(sctx); err != nil {
		t.Fatalf("node a stops: %v", err)
	}
	tb.waitFor("the failover to node b", fmt.Sprintf(`window.fo.url === %s && window.fo.c.connected`, jsString(b.WSURL)), 10*time.Second)
	var got struct {
		Seat0  string   `json:"seat0"`
		Events []string `json:"events"`
	}
	if err := tb.eval(`(async () => { await window.fo.c.call('seat.requests', {}); return { seat0: window.fo.seat0, events: window.fo.events }; })()`, &got); err != nil {
		tb.fail("calling node b: %v", err)
	}
	if got.Seat0 != "olivia" || !reflect.DeepEqual(got.Events, []string{"reconnecting", "failover"}) {
		t.Errorf("after the failover seat 0 holds %q with events %v; want olivia, [reconnecting failover]", got.Seat0, got.Events)
	}
	if b.SFU.Room("fo") == nil {
		t.Error("node b does not host the room after the failover")
	}
	if err := tb.eval(`window.fo.c.close()`, nil); err != nil {
		t.Fatal(err)
	}
}
