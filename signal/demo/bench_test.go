package demo

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// discard is a ResponseWriter that keeps nothing, so the benchmarks measure
// the handler rather than a recorder's buffer.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

func benchServe(b *testing.B, path, ifNoneMatch string) {
	h := Handler()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if ifNoneMatch != "" {
		req.Header.Set("If-None-Match", ifNoneMatch)
	}
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}

// A first visit: the page's full body.
func BenchmarkServePage(b *testing.B) { benchServe(b, "/", "") }

// A revisit: the browser revalidates the SDK and gets 304.
func BenchmarkServeSDKRevalidated(b *testing.B) {
	assets, err := load()
	if err != nil {
		b.Fatal(err)
	}
	benchServe(b, SDKPath, assets[SDKPath].etag)
}
