package demo

import (
	"github.com/chromedp/chromedp"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The page loads, runs its modules and shows the join form without a single
// console error; with no signalling server behind it, trying to join says
// why in words instead of failing silently.
func TestPageLoadsWithoutErrors(t *testing.T) {
	srv := httptest.NewServer(Handler())
	t.Cleanup(srv.Close)
	b := newBrowser(t)
	tb := b.newTab("page")
	tb.do("open the page", chromedp.Navigate(srv.URL+"/?room=smoke&name=Ada"))
	tb.waitFor("the app module to run", `document.body.dataset.ready === 'true'`, 10*time.Second)
	tb.shot("loaded")

	var state struct {
		FormVisible bool   `json:"formVisible"`
		LiveHidden  bool   `json:"liveHidden"`
		Room        string `json:"room"`
		Name        string `json:"name"`
		SDK         string `json:"sdk"`
	}
	err := tb.eval(`(async () => ({
		formVisible: !document.getElementById('join-form').hidden,
		liveHidden: document.getElementById('live').hidden,
		room: document.getElementById('room').value,
		name: document.getElementById('name').value,
		sdk: typeof (await import('/sdk/seatsfu.js')).Client,
	}))()`, &state)
	if err != nil {
		t.Fatal(err)
	}
	if !state.FormVisible || !state.LiveHidden {
		t.Errorf("want the join form shown and the live view hidden, got %+v", state)
	}
	if state.Room != "smoke" || state.Name != "Ada" {
		t.Errorf("?room= and ?name= should prefill the form, got room %q name %q", state.Room, state.Name)
	}
	if state.SDK != "function" {
		t.Errorf("/sdk/seatsfu.js should export the Client class, typeof is %q", state.SDK)
	}
	if errs := tb.errors(); len(errs) > 0 {
		t.Fatalf("console errors on load:\n%s", strings.Join(errs, "\n"))
	}

	// No /demo/token here: the page must say so.
	tb.click("#join")
	tb.waitFor("an error notice", `[...document.querySelectorAll('[data-testid=notice][data-level=error]')].some(n => n.textContent.includes('dev mode'))`, 5*time.Second)
	tb.shot("no-token-endpoint")
	if errs := tb.errors("404"); len(errs) > 0 {
		t.Fatalf("console errors besides the expected 404:\n%s", strings.Join(errs, "\n"))
	}
}
