package demo

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"
	"github.com/pion/sdp/v3"
)

// scriptedServer is a fake /v1/rtc whose methods each exercise one path of
// the SDK: a result, an error, silence, a notification after a garbage
// frame, a close, and media offers it records and refuses.
type scriptedServer struct {
	offers chan offer // bounded; the test reads them
}

// offer is one media offer the scripted server received.
type offer struct {
	method string
	frame  int // bytes of the whole JSON-RPC frame
	sdp    string
}

func (s *scriptedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("token") != "good" {
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20) // so the test can see, and judge, an offer too big for the real server
	ctx := r.Context()
	send := func(v any) bool {
		b, _ := json.Marshal(v)
		return c.Write(ctx, websocket.MessageText, b) == nil
	}
	reply := func(id json.RawMessage, result any) bool {
		return send(map[string]any{"jsonrpc": "2.0", "id": id, "result": result})
	}
	fail := func(id json.RawMessage, code int, msg, reason string) bool {
		return send(map[string]any{"jsonrpc": "2.0", "id": id, "error": map[string]any{"code": code, "message": msg, "data": map[string]string{"reason": reason}}})
	}
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
		}
		if json.Unmarshal(data, &req) != nil {
			return
		}
		ok := true
		switch req.Method {
		case "test.echo":
			ok = reply(req.ID, req.Params)
		case "test.fail":
			ok = fail(req.ID, 100201, "seat 3 is taken", "seat_occupied")
		case "test.silent":
		case "test.notify":
			ok = c.Write(ctx, websocket.MessageText, []byte("not json{")) == nil &&
				send(map[string]any{"jsonrpc": "2.0", "method": "seat.changed", "params": map[string]any{"seats": []int{1, 2}}}) &&
				reply(req.ID, map[string]any{})
		case "test.close":
			_ = c.Close(websocket.StatusNormalClosure, "bye")
			return
		case "rtc.publish", "rtc.subscribe":
			var p struct{ SDP string }
			_ = json.Unmarshal(req.Params, &p)
			select {
			case s.offers <- offer{req.Method, len(data), p.SDP}:
			default:
			}
			ok = fail(req.ID, 100401, "the offer cannot be used", "bad_sdp")
		case "rtc.candidate":
			ok = reply(req.ID, map[string]any{})
		default:
			ok = fail(req.ID, -32601, "method not found", "method_not_found")
		}
		if !ok {
			return
		}
	}
}

const sdkScript = `(async () => {
	const { Client } = await import('/sdk/seatsfu.js');
	const out = {};
	try { await new Client({ token: 'bad' }).connect(); out.badToken = 'connected'; } catch (e) { out.badToken = e.reason; }

	// The default call timeout: publish and subscribe build, gather and send
	// real offers, which can take a while on a loaded machine; only the call
	// meant to time out gets a short one.
	const c = new Client({ token: 'good' });
	const notes = [];
	let closed = null;
	c.addEventListener('seat.changed', (e) => notes.push(e.detail));
	c.addEventListener('close', (e) => { closed = e.detail; });
	await c.connect();
	out.echo = await c.call('test.echo', { a: 1 });
	try { await c.call('test.fail'); } catch (e) { out.fail = { name: e.name, code: e.code, reason: e.reason, message: e.message, method: e.method }; }
	try { await c.call('test.silent', {}, { timeoutMs: 300 }); } catch (e) { out.silent = e.reason; }
	await c.call('test.notify');
	out.notes = notes;

	const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
	try { await c.publish(stream); out.publish = 'ok'; } catch (e) { out.publish = e.reason; }
	out.publishCleared = c.peers.publish === null;
	try { await c.subscribe(3); out.subscribe = 'ok'; } catch (e) { out.subscribe = e.reason; }
	try { await c.subscribe(16); out.subscribe16 = 'ok'; } catch (e) { out.subscribe16 = e.reason; }
	try { await c.subscribe(0); } catch (e) { out.badSeats = e.name; }
	stream.getTracks().forEach((t) => t.stop());

	const pending = c.call('test.silent', {}, { timeoutMs: 5000 });
	c.call('test.close').catch(() => {});
	try { await pending; } catch (e) { out.pendingOnClose = e.reason; }
	try { await c.call('test.echo'); } catch (e) { out.afterClose = e.reason; }
	out.closeCode = closed && closed.code;
	return out;
})()`

// The browser SDK against a scripted server: results, errors with their
// reason, timeouts, notifications as events (a garbage frame in between
// changes nothing), a close failing what is in flight, a refused upgrade,
// and offers shaped as PROTOCOL.md §5 says.
func TestSDKProtocolPaths(t *testing.T) {
	fake := &scriptedServer{offers: make(chan offer, 4)}
	mux := http.NewServeMux()
	mux.Handle("/v1/rtc", fake)
	mux.Handle("/", Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	b := newBrowser(t)
	tb := b.newTab("sdk")
	tb.do("open the page", chromedp.Navigate(srv.URL))
	tb.waitFor("the app", `document.body.dataset.ready === 'true'`, 10*time.Second)

	var got struct {
		BadToken string         `json:"badToken"`
		Echo     map[string]int `json:"echo"`
		Fail     struct {
			Name, Reason, Message, Method string
			Code                          int
		} `json:"fail"`
		Silent         string           `json:"silent"`
		Notes          []map[string]any `json:"notes"`
		Publish        string           `json:"publish"`
		PublishCleared bool             `json:"publishCleared"`
		Subscribe      string           `json:"subscribe"`
		Subscribe16    string           `json:"subscribe16"`
		BadSeats       string           `json:"badSeats"`
		PendingOnClose string           `json:"pendingOnClose"`
		AfterClose     string           `json:"afterClose"`
		CloseCode      int              `json:"closeCode"`
	}
	if err := tb.eval(sdkScript, &got); err != nil {
		tb.fail("running the SDK script: %v", err)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"refused upgrade", got.BadToken, "connect_failed"},
		{"echo result", got.Echo, map[string]int{"a": 1}},
		{"error name", got.Fail.Name, "RpcError"},
		{"error code", got.Fail.Code, 100201},
		{"error reason", got.Fail.Reason, "seat_occupied"},
		{"error message", got.Fail.Message, "seat 3 is taken"},
		{"error method", got.Fail.Method, "test.fail"},
		{"no response", got.Silent, "timeout"},
		{"notification", got.Notes, []map[string]any{{"seats": []any{1.0, 2.0}}}},
		{"refused publish", got.Publish, "bad_sdp"},
		{"publisher dropped after refusal", got.PublishCleared, true},
		{"refused subscribe", got.Subscribe, "bad_sdp"},
		{"refused 16-seat subscribe", got.Subscribe16, "bad_sdp"},
		{"subscribe(0)", got.BadSeats, "TypeError"},
		{"call in flight at close", got.PendingOnClose, "disconnected"},
		{"call after close", got.AfterClose, "not_connected"},
		{"close event code", got.CloseCode, 1000},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.what, c.got, c.want)
		}
	}

	// Offers in arrival order: publish, subscribe(3), subscribe(16).
	var offers []offer
	for len(offers) < 3 {
		select {
		case o := <-fake.offers:
			offers = append(offers, o)
		case <-time.After(5 * time.Second):
			t.Fatalf("got %d offers, want 3", len(offers))
		}
	}
	for i, want := range []string{"rtc.publish", "rtc.subscribe", "rtc.subscribe"} {
		if offers[i].method != want {
			t.Fatalf("offer %d came with %s, want %s", i, offers[i].method, want)
		}
	}
	checkOffer(t, "publish", offers[0].sdp, []string{"audio", "video"}, "sendonly")
	checkOffer(t, "subscribe(3)", offers[1].sdp, []string{"audio", "video", "audio", "video", "audio", "video"}, "recvonly")
	var sixteen []string
	for range 16 {
		sixteen = append(sixteen, "audio", "video")
	}
	checkOffer(t, "subscribe(16)", offers[2].sdp, sixteen, "recvonly")
	// PROTOCOL.md §3: frames over 64 KiB close the socket. The largest room's
	// subscription must fit, with room to spare for browsers that add more.
	if offers[2].frame > 56<<10 {
		t.Errorf("the 16-seat rtc.subscribe frame is %d bytes; the server closes sockets over 65536", offers[2].frame)
	}
	t.Logf("rtc.subscribe frame sizes: 3 seats %d B, 16 seats %d B", offers[1].frame, offers[2].frame)
	for _, o := range offers[1:] {
		checkRoomCodecs(t, o.sdp)
	}
	// The refused upgrade is logged by the browser; it was on purpose.
	if errs := tb.errors("HTTP Authentication failed"); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}

// checkOffer asserts the m-lines' kinds in order, their direction, BUNDLE
// over all of them and rtcp-mux (PROTOCOL.md §5).
func checkOffer(t *testing.T, name, raw string, kinds []string, direction string) {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(raw); err != nil {
		t.Fatalf("%s offer does not parse: %v", name, err)
	}
	var got []string
	var mids []string
	for i, md := range sd.MediaDescriptions {
		got = append(got, md.MediaName.Media)
		if _, ok := md.Attribute(direction); !ok {
			t.Errorf("%s m-line %d is not %s", name, i, direction)
		}
		if _, ok := md.Attribute("rtcp-mux"); !ok {
			t.Errorf("%s m-line %d lacks rtcp-mux", name, i)
		}
		mid, _ := md.Attribute("mid")
		mids = append(mids, mid)
	}
	if !reflect.DeepEqual(got, kinds) {
		t.Errorf("%s offer m-lines %v, want %v", name, got, kinds)
	}
	group, _ := sd.Attribute("group")
	if group != "BUNDLE "+strings.Join(mids, " ") {
		t.Errorf("%s offer group %q, want BUNDLE of every mid %v", name, group, mids)
	}
}

// checkRoomCodecs asserts a subscribe offer names only codecs a room can
// use, and the room's default (VP8) among them.
func checkRoomCodecs(t *testing.T, raw string) {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(raw); err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"opus": true, "VP8": true, "VP9": true, "H264": true, "rtx": true}
	for i, md := range sd.MediaDescriptions {
		var names []string
		for _, a := range md.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			_, enc, _ := strings.Cut(a.Value, " ")
			name, _, _ := strings.Cut(enc, "/")
			names = append(names, name)
			if !allowed[name] {
				t.Errorf("m-line %d offers %s, which no room uses", i, name)
			}
		}
		if md.MediaName.Media == "video" && !strings.Contains(strings.Join(names, " "), "VP8") {
			t.Errorf("video m-line %d lacks VP8: %v", i, names)
		}
	}
}
