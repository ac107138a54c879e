package load

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// bar is a one-line progress bar redrawn in place with \r; nil-safe.
type bar struct {
	mu    sync.Mutex
	w     io.Writer
	label string
}

func newBar(w io.Writer, label string) *bar { return &bar{w: w, label: label} }

func (b *bar) show(frac float64, msg string) {
	if b == nil || b.w == nil {
		return
	}
	frac = min(max(frac, 0), 1)
	const width = 24
	n := int(frac * width)
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprintf(b.w, "\r[%-*s] %s: %-40s", width, strings.Repeat("#", n), b.label, msg)
}

func (b *bar) done() {
	if b == nil || b.w == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprintln(b.w)
}
