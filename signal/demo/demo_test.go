package demo

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestServesEachAssetWithTypeAndCacheHeaders(t *testing.T) {
	h := Handler()
	cases := []struct {
		path, file, contentType string
	}{
		{"/", "static/index.html", "text/html; charset=utf-8"},
		{"/app.js", "static/app.js", "text/javascript; charset=utf-8"},
		{"/ui.js", "static/ui.js", "text/javascript; charset=utf-8"},
		{"/grid.js", "static/grid.js", "text/javascript; charset=utf-8"},
		{"/host.js", "static/host.js", "text/javascript; charset=utf-8"},
		{"/cohost.js", "static/cohost.js", "text/javascript; charset=utf-8"},
		{"/app.css", "static/app.css", "text/css; charset=utf-8"},
		{"/cohost.css", "static/cohost.css", "text/css; charset=utf-8"},
		{"/favicon.svg", "static/favicon.svg", "image/svg+xml"},
		{SDKPath, "static/sdk/seatsfu.js", "text/javascript; charset=utf-8"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			want, err := fs.ReadFile(static, c.file)
			if err != nil {
				t.Fatal(err)
			}
			r := get(t, h, http.MethodGet, c.path, nil)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", r.StatusCode)
			}
			if got := r.Header.Get("Content-Type"); got != c.contentType {
				t.Errorf("Content-Type %q, want %q", got, c.contentType)
			}
			if got := r.Header.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control %q, want no-cache (revalidate so a new binary's page shows at once)", got)
			}
			if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
			if !regexp.MustCompile(`^"[0-9a-f]{24}"$`).MatchString(r.Header.Get("ETag")) {
				t.Errorf("ETag %q is not a strong quoted hash", r.Header.Get("ETag"))
			}
			if got := body(t, r); got != string(want) {
				t.Errorf("body differs from the embedded %s (%d vs %d bytes)", c.file, len(got), len(want))
			}
		})
	}
}

func TestUnknownPathsAre404(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/index.html", "/static/app.js", "/sdk/", "/sdk", "/nope", "/app.js/", "/../demo.go", "/demo.go", "/v1/rtc"} {
		if r := get(t, h, http.MethodGet, p, nil); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, r.StatusCode)
		}
	}
}

func TestRevalidationAnswers304(t *testing.T) {
	h := Handler()
	first := get(t, h, http.MethodGet, SDKPath, nil)
	etag := first.Header.Get("ETag")
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		r := get(t, h, http.MethodGet, SDKPath, map[string]string{"If-None-Match": inm})
		if r.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match %s: status %d, want 304", inm, r.StatusCode)
		}
		if b := body(t, r); b != "" {
			t.Errorf("304 carried a body of %d bytes", len(b))
		}
	}
	if r := get(t, h, http.MethodGet, SDKPath, map[string]string{"If-None-Match": `"stale"`}); r.StatusCode != http.StatusOK {
		t.Errorf("stale ETag: status %d, want 200", r.StatusCode)
	}
}

func TestHeadAndMethods(t *testing.T) {
	h := Handler()
	r := get(t, h, http.MethodHead, "/", nil)
	if r.StatusCode != http.StatusOK || body(t, r) != "" || r.Header.Get("Content-Length") == "" {
		t.Errorf("HEAD /: status %d, Content-Length %q; want 200, a length and no body", r.StatusCode, r.Header.Get("Content-Length"))
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		r := get(t, h, m, "/app.js", nil)
		if r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s /app.js: status %d Allow %q, want 405 and GET, HEAD", m, r.StatusCode, r.Header.Get("Allow"))
		}
	}
}

func TestPageHeaders(t *testing.T) {
	h := Handler()
	r := get(t, h, http.MethodGet, "/", nil)
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "connect-src 'self'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	sdk := get(t, h, http.MethodGet, SDKPath, nil)
	if sdk.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("the SDK must be importable from other origins; ACAO %q", sdk.Header.Get("Access-Control-Allow-Origin"))
	}
}

// Every URL the page and its modules reference must be one the handler
// serves: a renamed file would otherwise only show up as a broken page.
func TestReferencesResolve(t *testing.T) {
	h := Handler()
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"|from '([^']+)'|import '([^']+)'`)
	files := map[string]string{"/": "static/index.html"}
	_ = fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".js") {
			files[strings.TrimPrefix(p, "static")] = p
		}
		return nil
	})
	seen := 0
	for urlPath, file := range files {
		src, err := fs.ReadFile(static, file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range refs.FindAllStringSubmatch(string(src), -1) {
			ref := m[1] + m[2] + m[3]
			if strings.HasPrefix(ref, "http") || strings.HasPrefix(ref, "#") {
				continue
			}
			target := ref
			if !strings.HasPrefix(ref, "/") {
				target = path.Join(path.Dir(urlPath), ref)
			}
			seen++
			if r := get(t, h, http.MethodGet, target, nil); r.StatusCode != http.StatusOK {
				t.Errorf("%s references %q (%s): status %d", file, ref, target, r.StatusCode)
			}
		}
	}
	if seen < 6 {
		t.Errorf("found only %d references; the scan is broken", seen)
	}
}

func TestEtagMatches(t *testing.T) {
	cases := []struct {
		header string
		want   bool
	}{
		{"", false}, {`"a"`, true}, {`W/"a"`, true}, {`"b"`, false}, {`"b" , "a"`, true}, {"*", true}, {`a`, false},
	}
	for _, c := range cases {
		if got := etagMatches(c.header, `"a"`); got != c.want {
			t.Errorf("etagMatches(%q) = %v, want %v", c.header, got, c.want)
		}
	}
}
