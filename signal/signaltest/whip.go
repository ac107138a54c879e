package signaltest

// WHIP and WHEP from a test's side: plain HTTP exchanges that keep no
// connection (goleak), and the checks every created session must pass.

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// locationRE is a session URL: the room, then 128 bits in hex.
var locationRE = regexp.MustCompile(`^/(whip|whep)/([A-Za-z0-9_.-]+)/([0-9a-f]{32})$`)

// HTTPResult is a finished HTTP exchange.
type HTTPResult struct {
	Status int
	Header http.Header
	Body   string
}

// DoHTTP sends one request with a client that keeps no idle connection
// (so nothing outlives the test). tok "" sends no Authorization.
func DoHTTP(t testing.TB, method, url, tok, contentType, body string, extra ...string) HTTPResult {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return HTTPResult{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// PostSDP sends an SDP offer to an endpoint ("/whip/room?x").
func (env *Env) PostSDP(t testing.TB, path, tok, offer string) HTTPResult {
	t.Helper()
	return DoHTTP(t, http.MethodPost, env.URL+path, tok, "application/sdp", offer)
}

// MustCreate asserts a 201 with the WHIP/WHEP headers and returns the
// session's Location.
func MustCreate(t testing.TB, res HTTPResult, proto, room string) string {
	t.Helper()
	if res.Status != http.StatusCreated {
		t.Fatalf("POST /%s/%s: %d %q, want 201", proto, room, res.Status, res.Body)
	}
	loc := res.Header.Get("Location")
	m := locationRE.FindStringSubmatch(loc)
	if m == nil || m[1] != proto || m[2] != room {
		t.Fatalf("Location %q is not /%s/%s/<128-bit id>", loc, proto, room)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/sdp" {
		t.Fatalf("answer Content-Type %q", ct)
	}
	if res.Header.Get("ETag") == "" {
		t.Fatal("no ETag")
	}
	if res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatal("no CORS header on the 201")
	}
	if !strings.Contains(res.Body, "a=candidate:") {
		t.Fatal("the answer carries no candidate")
	}
	return loc
}

// StartWHIP publishes p through WHIP and returns the session's Location.
func (env *Env) StartWHIP(t testing.TB, room, tok string, p *Publisher) string {
	t.Helper()
	res := env.PostSDP(t, "/whip/"+room, tok, p.Offer)
	loc := MustCreate(t, res, "whip", room)
	p.Start(t, res.Body)
	return loc
}

// StartWHEP plays a room through WHEP (query "" or "?seat=N").
func (env *Env) StartWHEP(t testing.TB, room, tok, query string, v *Viewer) string {
	t.Helper()
	res := env.PostSDP(t, "/whep/"+room+query, tok, v.Offer)
	loc := MustCreate(t, res, "whep", room)
	v.Answer(t, res.Body)
	return loc
}
