package demo

import (
	"context"
	"log/slog"
	"sync"
)

// warnLog keeps every WARN and ERROR record of a server (sfu, signal, and
// Pion through the sfu's logger), so a test can show that a whole session
// logs nothing an operator would have to read.
type warnLog struct {
	mu    sync.Mutex
	lines []string
}

func (w *warnLog) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.lines...)
}

func (w *warnLog) logger() *slog.Logger { return slog.New(warnHandler{log: w}) }

type warnHandler struct {
	log   *warnLog
	attrs []slog.Attr
}

func (h warnHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h warnHandler) Handle(_ context.Context, r slog.Record) error {
	line := r.Level.String() + " " + r.Message
	for _, a := range h.attrs {
		line += " " + a.String()
	}
	r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	h.log.mu.Lock()
	h.log.lines = append(h.log.lines, line)
	h.log.mu.Unlock()
	return nil
}

func (h warnHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return warnHandler{log: h.log, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h warnHandler) WithGroup(string) slog.Handler { return h }
