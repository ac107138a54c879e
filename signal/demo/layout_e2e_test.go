package demo

import (
	"context"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// A viewer who arrives before the host is told to wait, not refused, and
// is in the live — video playing — as soon as the host starts it, without
// a click. Another viewer who gives up waiting is back at the form.
func TestViewerWaitsForTheHost(t *testing.T) {
	env := signaltest.Start(t, signaltest.WithDemo(Handler()))
	b := newBrowser(t)

	viewer := b.newTab("viewer")
	viewer.do("open the page", navigate(env.URL, "later", "Vera"))
	viewer.waitFor("the app", `document.body.dataset.ready === 'true'`, 10*time.Second)
	viewer.click("#join")
	viewer.waitFor("waiting for the host", `!document.getElementById('waiting').hidden && document.getElementById('waiting-text').textContent.includes('Waiting for the host') && document.getElementById('conn').dataset.state === 'waiting' && document.getElementById('join-form').hidden`, 10*time.Second)
	if errs := viewer.errors(); len(errs) > 0 {
		t.Errorf("console errors while waiting: %v", errs)
	}
	var notices int
	if err := viewer.eval(`document.querySelectorAll('[data-testid=notice][data-level=error]').length`, &notices); err != nil || notices != 0 {
		t.Errorf("waiting shows %d error notices (%v): an early viewer is not an error", notices, err)
	}
	viewer.shotWidths("waiting")

	owner := b.newTab("owner")
	owner.join(env.URL, "later", "Olivia", "#go-live")
	viewer.waitFor("in the live by itself", `document.getElementById('conn').dataset.state === 'live' && document.getElementById('waiting').hidden && !document.getElementById('live').hidden`, 15*time.Second)
	viewer.waitFor("the host's video", playingJS(0), mediaWait)
	viewer.shotWidths("joined-when-live")

	quitter := b.newTab("quitter")
	quitter.do("open the page", navigate(env.URL, "never", "Quinn"))
	quitter.waitFor("the app", `document.body.dataset.ready === 'true'`, 10*time.Second)
	quitter.click("#join")
	quitter.waitFor("waiting", `!document.getElementById('waiting').hidden`, 10*time.Second)
	quitter.click("#stop-waiting")
	quitter.waitFor("back at the form", `!document.getElementById('join-form').hidden && document.getElementById('waiting').hidden && seatsfuDemo.session === null`, 5*time.Second)
	// And it stays there: no retry joins it later.
	owner2 := b.newTab("owner2")
	owner2.join(env.URL, "never", "Nora", "#go-live")
	owner2.waitFor("alone in the room", `document.getElementById('viewer-count').textContent === '1'`, 5*time.Second)
	for _, tb := range []*tab{viewer, owner, quitter, owner2} {
		if errs := tb.errors(); len(errs) > 0 {
			t.Errorf("[%s] console errors: %v", tb.name, errs)
		}
	}
}

// Going live in a room that is already live says so in words — not with
// the other host's internal id — and leaves the form to try again.
func TestSecondGoLiveSaysTheRoomIsTaken(t *testing.T) {
	env := signaltest.Start(t, signaltest.WithDemo(Handler()))
	b := newBrowser(t)
	first := b.newTab("first")
	first.join(env.URL, "taken", "Olivia", "#go-live")
	var firstID string
	if err := first.eval(`seatsfuDemo.session.self.userId`, &firstID); err != nil {
		t.Fatal(err)
	}

	second := b.newTab("second")
	second.do("open the page", navigate(env.URL, "taken", "Omar"))
	second.waitFor("the app", `document.body.dataset.ready === 'true'`, 10*time.Second)
	second.click("#go-live")
	second.waitFor("the room-taken notice", noticeJS("error", "already live with another host"), 10*time.Second)
	var text string
	if err := second.eval(`[...document.querySelectorAll('[data-testid=notice]')].map(n => n.textContent).join(' | ')`, &text); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{firstID, "Omar-", "permission_denied"} {
		if contains(text, id) {
			t.Errorf("the notice shows internals (%q): %s", id, text)
		}
	}
	second.waitFor("the form offered again", `!document.getElementById('join-form').hidden && !document.getElementById('go-live').disabled && seatsfuDemo.session === null`, 5*time.Second)
	second.shotWidths("room-taken")
}

// The live page as a live-streaming app: the host's video large across the
// stage, the guests' below in a grid, the controls grouped in one bar; the
// host's audience list holds neither the owner nor anyone seated, and an
// applicant is offered for acceptance, not also for an invitation. At a
// phone's 390 px the header stays on one line and nothing scrolls sideways.
func TestLiveLayoutAndAudience(t *testing.T) {
	env := signaltest.Start(t, signaltest.WithDemo(Handler()))
	b := newBrowser(t)
	owner := b.newTab("owner")
	owner.join(env.URL, "stage", "Olivia Longname-Presenter", "#go-live")
	guest := b.newTab("guest")
	guest.join(env.URL, "stage", "Gus", "#join")
	guest.click("#apply")
	owner.waitFor("the application", `document.querySelector('#applicants li [data-action=accept]')`, 10*time.Second)
	owner.click("#applicants li [data-action=accept]")
	owner.waitFor("Gus's video", playingJS(1), mediaWait)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, u := range []string{"vera", "amy"} {
		c, err := env.Dial(ctx, env.Token("stage", u, proto.RoleAudience))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		if err := c.Call(ctx, "room.join", nil, nil); err != nil {
			t.Fatal(err)
		}
		if u == "amy" {
			if err := c.Call(ctx, "seat.apply", map[string]any{"seatIndex": -1, "timeout": 60}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	viewer := b.newTab("viewer")
	viewer.join(env.URL, "stage", "Vic", "#join")
	viewer.waitFor("both videos", playingJS(0)+` && `+playingJS(1), mediaWait)

	// The audience: Vera, Amy and Vic; not Olivia (the owner, herself), not
	// Gus (seated).
	owner.waitFor("the audience, without the owner and the seated", `(ids => ids.length === 3 && ids.includes('vera') && ids.includes('amy') && ids.some(i => i.startsWith('Vic-')))([...document.querySelectorAll('#members li')].map(l => l.dataset.userId))`, 10*time.Second)
	owner.waitFor("Amy offered for acceptance only", `document.querySelector('#applicants li[data-user-id=amy] [data-action=accept]') && document.querySelector('#members li[data-user-id=amy] .note').textContent === 'asks for a seat' && getComputedStyle(document.querySelector('#members li[data-user-id=amy] .invite')).visibility === 'hidden'`, 5*time.Second)
	owner.waitFor("Vera offered an invitation", `getComputedStyle(document.querySelector('#members li[data-user-id=vera] [data-action=invite]')).visibility === 'visible'`, 5*time.Second)

	for _, tb := range []*tab{owner, guest, viewer} {
		// The host's tile spans the stage; each guest's is a fraction of it.
		tb.waitFor("host large, guest in the grid, nothing sideways", `(() => {
			const g = document.getElementById('grid').getBoundingClientRect();
			const h = `+tileJS(0)+`.getBoundingClientRect(), s = `+tileJS(1)+`.getBoundingClientRect();
			return h.width >= 0.95 * g.width && s.width < 0.5 * h.width && s.top >= h.bottom &&
				document.documentElement.scrollWidth <= 1280;
		})()`, 5*time.Second)
		tb.shotWidths("live")
		tb.atWidth(widths[1].width, widths[1].height)
		tb.waitFor("one-line header, nothing sideways, controls on screen", `(() => {
			const hd = document.querySelector('header').getBoundingClientRect();
			const tops = [...document.querySelectorAll('header > :not([hidden])')].map(n => Math.round(n.getBoundingClientRect().top + n.getBoundingClientRect().height / 2));
			const bar = document.getElementById('self-controls').getBoundingClientRect();
			return hd.height < 56 && Math.max(...tops) - Math.min(...tops) <= 4 &&
				document.documentElement.scrollWidth <= 390 && bar.width > 0 && bar.right <= 390;
		})()`, 5*time.Second)
		tb.waitFor("the host's video across the phone", `(() => {
			const h = `+tileJS(0)+`.getBoundingClientRect();
			return h.width >= 390 - 24;
		})()`, 5*time.Second)
		tb.atWidth(widths[0].width, widths[0].height)
	}
	// The controls come in groups: my media, my seat, the room.
	guest.waitFor("grouped controls", `[...document.querySelectorAll('#self-controls .group')].filter(g => getComputedStyle(g).display !== 'none').map(g => g.dataset.group).join() === 'media,seat,room'`, 5*time.Second)
	for _, tb := range []*tab{owner, guest, viewer} {
		if errs := tb.errors(); len(errs) > 0 {
			t.Errorf("[%s] console errors: %v", tb.name, errs)
		}
	}
}
