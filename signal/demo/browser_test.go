package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium; CHROMIUM overrides it.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// browser is one headless chromium with a fresh profile, for one test.
type browser struct {
	t         *testing.T
	ctx       context.Context // the browser's first tab; new tabs derive from it
	artifacts string
	shots     int
}

// newBrowser starts chromium, or skips the test when it is not installed
// (fails instead under CI=true, where a missing browser is a broken runner).
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath()
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium not found at %s (CI=true needs it)", path)
		}
		t.Skipf("chromium not found at %s; install Debian's chromium to run the browser tests", path)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		// Several tabs play video at once; none of them may be throttled
		// for being in the background.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	dir := os.Getenv("SEATSFU_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else {
		dir = filepath.Join(dir, regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_"))
		// Only this run's pictures: a stale failure shot would mislead.
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return &browser{t: t, ctx: ctx, artifacts: dir}
}

// tab is one page of the browser, with its console collected.
type tab struct {
	b    *browser
	name string
	ctx  context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

func (b *browser) newTab(name string) *tab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		b.t.Fatalf("opening tab %s: %v", name, err)
	}
	tb := &tab{b: b, name: name, ctx: ctx}
	msgs := chromedp.Console(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // ends when the tab's context is cancelled
		defer wg.Done()
		for m, err := range msgs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.console = append(tb.console, m)
			tb.mu.Unlock()
		}
	}()
	b.t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return tb
}

// do runs steps with a deadline, failing the test (with a screenshot) on error.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.fail("%s: %v", what, err)
	}
}

// click clicks a visible element.
func (tb *tab) click(sel string) {
	tb.b.t.Helper()
	tb.do("click "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// eval evaluates js (awaiting a promise) and decodes its JSON value into out.
func (tb *tab) eval(js string, out any) error {
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](js, chromedp.EvalAwaitPromise))
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}

// waitFor polls a JS boolean expression until it is true or the deadline
// passes; then the test fails with a screenshot and the page's state.
func (tb *tab) waitFor(what, cond string, within time.Duration) {
	tb.b.t.Helper()
	tb.waitExplained(what, cond, within, nil)
}

// waitExplained is waitFor, calling explain (when not nil) on a timeout
// for what the pages say about why, before failing.
func (tb *tab) waitExplained(what, cond string, within time.Duration, explain func() string) {
	tb.b.t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	var last error
	for {
		var ok bool
		last = tb.eval("!!("+cond+")", &ok)
		if last == nil && ok {
			tb.b.t.Logf("[%s] %s after %v", tb.name, what, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-tb.ctx.Done():
			tb.fail("waiting for %s: tab closed", what)
		case <-time.After(100 * time.Millisecond):
		}
	}
	why := ""
	if explain != nil {
		why = "; " + explain()
	}
	tb.fail("timed out after %v waiting for %s (%s); last eval error: %v%s", within, what, cond, last, why)
}

// fail reports the page's notices and console and a screenshot, then stops
// the test.
func (tb *tab) fail(format string, args ...any) {
	tb.b.t.Helper()
	tb.shot("failure")
	var notices []string
	_ = tb.eval(`[...document.querySelectorAll('[data-testid=notice]')].map(n => n.dataset.level + ': ' + n.textContent)`, &notices)
	tb.b.t.Fatalf("[%s] %s\nnotices: %q\nconsole:\n%s", tb.name, fmt.Sprintf(format, args...), notices, tb.consoleText())
}

// shot saves a PNG of the tab's viewport as NN-tab-step.png.
func (tb *tab) shot(step string) {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.b.t.Logf("screenshot %s/%s: %v", tb.name, step, err)
		return
	}
	tb.b.shots++
	file := filepath.Join(tb.b.artifacts, fmt.Sprintf("%02d-%s-%s.png", tb.b.shots, tb.name, step))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		tb.b.t.Errorf("saving screenshot: %v", err)
	}
}

// errors returns the console errors and uncaught exceptions so far, leaving
// out messages matching any of allow.
func (tb *tab) errors(allow ...string) []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var out []string
next:
	for _, m := range tb.console {
		if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException {
			continue
		}
		for _, a := range allow {
			if strings.Contains(m.Text, a) {
				continue next
			}
		}
		out = append(out, m.String()+" @"+m.URL)
	}
	return out
}

func (tb *tab) consoleText() string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var sb strings.Builder
	for _, m := range tb.console {
		fmt.Fprintf(&sb, "  %s @%s:%d\n", m.String(), m.URL, m.Line)
	}
	return sb.String()
}

// Widths the layout is checked and pictured at: a laptop and a phone.
var widths = []struct {
	name          string
	width, height int64
}{{"1280", 1280, 800}, {"390", 390, 844}}

// atWidth lays the tab out at w×h (a phone's width emulated as a mobile
// viewport); widths[0] is the browser's own window size.
func (tb *tab) atWidth(w int64, h int64) {
	tb.b.t.Helper()
	if w == widths[0].width {
		tb.do("back to the desktop viewport", chromedp.EmulateViewport(w, h))
		return
	}
	tb.do(fmt.Sprintf("emulate a %d px phone", w), chromedp.EmulateViewport(w, h, chromedp.EmulatePortrait, chromedp.EmulateMobile))
}

// shotWidths saves step at every width of widths: the viewport at 1280 px
// and the whole page at 390 px (a phone scrolls), then goes back to 1280.
func (tb *tab) shotWidths(step string) {
	tb.b.t.Helper()
	for _, w := range widths {
		tb.atWidth(w.width, w.height)
		if w.width == widths[0].width {
			tb.shot(step + "-" + w.name)
			continue
		}
		ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		cancel()
		if err != nil {
			tb.b.t.Logf("screenshot %s/%s: %v", tb.name, step, err)
			continue
		}
		tb.b.shots++
		file := filepath.Join(tb.b.artifacts, fmt.Sprintf("%02d-%s-%s-%s.png", tb.b.shots, tb.name, step, w.name))
		if err := os.WriteFile(file, png, 0o644); err != nil {
			tb.b.t.Errorf("saving screenshot: %v", err)
		}
	}
	tb.atWidth(widths[0].width, widths[0].height)
}
