// Package baseline holds the two forwarders seatsfu is measured against, run
// as separate processes under the same load:
//
//   - raw: the machine's limit. One publisher connection (ICE+DTLS-SRTP via
//     Pion) decrypted once; each packet then SRTP-encrypted per viewer and
//     sent with one sendmsg on one shared socket. No peer connection per
//     viewer: keys go to the viewer over HTTP, which flatters only the raw
//     path's setup, never its per-packet cost.
//   - naive: what Pion users get without seatsfu. TrackLocalStaticRTP
//     fan-out, webrtc's default codecs and interceptors, one peer connection
//     and one socket per viewer.
//
// Both speak the same tiny HTTP signalling: POST /publish and POST
// /subscribe take an SDP offer and answer with an SDP answer (raw's
// /subscribe takes a JSON address instead), GET /healthz, GET /metrics.
package baseline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Forwarder is one baseline's media side.
type Forwarder interface {
	Publish(offer string) (answer string, err error)
	// Subscribe answers a viewer's request body once at least wantTracks
	// publisher tracks are being forwarded.
	Subscribe(body []byte, wantTracks int) (response []byte, contentType string, err error)
	Close() error
}

// maxBody bounds a signalling request: an SDP with a few dozen m-lines is a
// few KiB.
const maxBody = 256 << 10

// Serve runs f's signalling on ln until ctx ends.
func Serve(ctx context.Context, ln net.Listener, f Forwarder, log *slog.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /publish", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		answer, err := f.Publish(string(body))
		if err != nil {
			log.Warn("publish refused", "err", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/sdp")
		_, _ = io.WriteString(w, answer)
	})
	mux.HandleFunc("POST /subscribe", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		want, _ := strconv.Atoi(r.URL.Query().Get("tracks"))
		resp, ctype, err := f.Subscribe(body, want)
		if err != nil {
			log.Warn("subscribe refused", "err", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", ctype)
		_, _ = w.Write(resp)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-errc
		return f.Close()
	case err := <-errc:
		_ = f.Close()
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("baseline: serve: %w", err)
	}
}

// New builds the forwarder of the given mode ("raw", "raw-batched" or
// "naive").
func New(mode string, log *slog.Logger) (Forwarder, error) {
	switch mode {
	case "raw":
		return NewRaw(log)
	case "raw-batched":
		return NewRawBatched(log)
	case "naive":
		return NewNaive(log)
	}
	return nil, fmt.Errorf("baseline: unknown mode %q (want raw, raw-batched or naive)", mode)
}
