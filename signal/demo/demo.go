// Package demo is seatsfu's built-in web client (PROTOCOL.md §8): a page to go
// live as the owner, watch as the audience, apply for and manage seats, and
// chat. It also serves the browser protocol client on its own, at the stable
// path /sdk/seatsfu.js, so other pages can import it.
//
// Everything is embedded in the binary (go:embed) and written as plain ES
// modules: no build step, no CDN, nothing to install.
package demo

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// SDKPath is where the protocol client module is served. It is part of the
// project's public surface: pages outside this repository import it.
const SDKPath = "/sdk/seatsfu.js"

// asset is one embedded file ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// contentTypes is by extension; only the kinds the page ships.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// csp keeps the page to its own origin: scripts and styles from this server,
// media from the camera and peer connections, sockets to this host. Avatars
// may be any https image since tokens carry arbitrary avatar URLs.
const csp = "default-src 'self'; img-src 'self' data: https:; media-src 'self' blob: mediastream:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// Handler serves the demo page, its script and style, and the SDK module.
// Responses carry an ETag and "Cache-Control: no-cache": browsers keep a copy
// but revalidate, so a new binary's page is picked up at once while an
// unchanged one costs a 304.
func Handler() http.Handler {
	assets, err := load()
	if err != nil {
		// The files are compiled in; a miss is a build mistake that the
		// package tests catch, not something a running server can meet.
		panic(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := assets[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		if strings.HasPrefix(a.contentType, "text/html") {
			h.Set("Content-Security-Policy", csp)
			h.Set("Referrer-Policy", "no-referrer")
		}
		if strings.HasPrefix(r.URL.Path, "/sdk/") {
			// Pages on other origins may import the SDK's modules
			// (seatsfu.js, and adapt.js which imports it).
			h.Set("Access-Control-Allow-Origin", "*")
		}
		if etagMatches(r.Header.Get("If-None-Match"), a.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Length", fmt.Sprint(len(a.body)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(a.body)
	})
}

// load reads every embedded file once, so serving never touches the FS.
// static/x/y.js is served at /x/y.js and static/index.html at "/" (only
// there: one URL per page). Any other path is a 404, so the handler can sit
// at "/" of a mux without answering typos with the page.
func load() (map[string]asset, error) {
	out := make(map[string]asset)
	err := fs.WalkDir(static, "static", func(file string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(static, file)
		if err != nil {
			return err
		}
		ct, ok := contentTypes[path.Ext(file)]
		if !ok {
			return fmt.Errorf("demo: no content type for %s", file)
		}
		urlPath := strings.TrimPrefix(file, "static")
		if urlPath == "/index.html" {
			urlPath = "/"
		}
		sum := sha256.Sum256(body)
		out[urlPath] = asset{
			body:        body,
			contentType: ct,
			etag:        `"` + hex.EncodeToString(sum[:12]) + `"`,
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("demo: loading embedded files: %w", err)
	}
	return out, nil
}

// etagMatches implements If-None-Match's weak comparison for the strong
// ETags this handler sends: "*" or any listed tag (W/ prefix ignored).
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
