package demo

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// How long media may take to show up on a loaded 2-core CI box.
const mediaWait = 20 * time.Second

// videoState is what a tile's <video> element reports.
type videoState struct {
	Seat   string  `json:"seat"`
	Name   string  `json:"name"`
	Camera string  `json:"camera"`
	Width  int     `json:"width"`
	Time   float64 `json:"time"`
	Frames int     `json:"frames"`
	Holder bool    `json:"placeholder"` // the avatar placeholder is showing
}

const tilesJS = `[...document.querySelectorAll('#grid [data-testid=tile]')].map(t => {
	const v = t.querySelector('video');
	return {seat: t.dataset.seat, name: t.querySelector('.name').textContent, camera: t.dataset.camera,
		width: v.videoWidth, time: v.currentTime, frames: v.getVideoPlaybackQuality().totalVideoFrames,
		placeholder: getComputedStyle(t.querySelector('[data-testid=placeholder]')).display !== 'none'};
})`

func (tb *tab) tiles() []videoState {
	tb.b.t.Helper()
	var out []videoState
	if err := tb.eval(tilesJS, &out); err != nil {
		tb.fail("reading tiles: %v", err)
	}
	return out
}

// tileJS is a JS expression for seat n's tile.
func tileJS(n int) string {
	return fmt.Sprintf(`document.querySelector('#grid [data-testid=tile][data-seat="%d"]')`, n)
}

// playingJS is true once seat n's tile shows decoded video.
func playingJS(n int) string {
	return fmt.Sprintf(`(t => t && t.querySelector('video').videoWidth > 0 && t.querySelector('video').currentTime > 0)(%s)`, tileJS(n))
}

// join opens the page in tb and enters room as name, by the button id.
func (tb *tab) join(url, room, name, button string) {
	tb.b.t.Helper()
	tb.do("open the page", chromedp.Navigate(fmt.Sprintf("%s/?room=%s&name=%s", url, room, name)))
	tb.waitFor("the app", `document.body.dataset.ready === 'true'`, 10*time.Second)
	tb.click(button)
	tb.waitFor("being live in the room", `document.getElementById('conn').dataset.state === 'live'`, 10*time.Second)
}

// The whole product through real browsers: an owner goes live, a viewer
// applies and is accepted, a third tab sees both seats playing, the guest
// survives a dropped socket, its camera-off shows its placeholder, a kick
// takes the tile away and the owner ends the live — and the server logs no
// warning in all of it (Pion's routine chatter is not an operator's
// business).
func TestLiveRoomInBrowsers(t *testing.T) {
	var warns warnLog
	env := signaltest.Start(t, signaltest.WithDemo(Handler()), signaltest.WithLogger(warns.logger()))
	b := newBrowser(t)

	owner := b.newTab("owner")
	owner.join(env.URL, "e2e", "Olivia", "#go-live")
	owner.waitFor("the owner's own camera on seat 0", playingJS(0)+` && `+tileJS(0)+`.dataset.camera === 'on'`, mediaWait)
	owner.shot("live")

	guest := b.newTab("guest")
	guest.join(env.URL, "e2e", "Gus", "#join")
	guest.waitFor("the host's video", playingJS(0), mediaWait)
	guest.click("#apply")
	guest.waitFor("the pending application", `!document.getElementById('cancel-apply').hidden`, 5*time.Second)
	guest.shot("applied")

	owner.waitFor("the application", `document.querySelector('#applicants li [data-action=accept]')`, 5*time.Second)
	owner.shot("application")
	owner.click("#applicants li [data-action=accept]")

	guest.waitFor("the guest on seat 1, publishing", tileJS(1)+`?.dataset.self === 'true' && `+tileJS(1)+`.dataset.camera === 'on'`, mediaWait)
	guest.waitFor("the guest's seat controls", `!document.getElementById('toggle-cam').hidden && !document.getElementById('leave-seat').hidden`, 5*time.Second)
	guest.shot("seated")
	owner.waitFor("the guest's video at the owner", playingJS(1), mediaWait)
	owner.shot("guest-on-seat")

	viewer := b.newTab("viewer")
	viewer.join(env.URL, "e2e", "Vera", "#join")
	viewer.waitFor("two playing tiles", playingJS(0)+` && `+playingJS(1), mediaWait)
	before := viewer.tiles()
	if len(before) != 2 || before[0].Seat != "0" || before[1].Seat != "1" {
		viewer.fail("want tiles for seats 0 and 1 in order, got %+v", before)
	}
	if !strings.HasPrefix(before[0].Name, "Olivia") || !strings.HasPrefix(before[1].Name, "Gus") {
		viewer.fail("want tiles named Olivia and Gus, got %+v", before)
	}
	// Frames keep coming: both videos advance, not one frozen frame.
	viewer.waitFor("both videos advancing", fmt.Sprintf(
		`(tiles => tiles.length === 2 && tiles[0].frames > %d && tiles[1].frames > %d && tiles[0].time > %f && tiles[1].time > %f)(%s)`,
		before[0].Frames, before[1].Frames, before[0].Time, before[1].Time, tilesJS), mediaWait)
	for _, tl := range viewer.tiles() {
		if tl.Width == 0 || tl.Holder {
			viewer.fail("seat %s: want decoded video and no placeholder, got %+v", tl.Seat, tl)
		}
	}
	viewer.waitFor("the viewer count", `document.getElementById('viewer-count').textContent === '3'`, 5*time.Second)
	// The fake microphone beeps; the host's tile must light up for it.
	viewer.waitFor("the host's speaking cue", tileJS(0)+`.dataset.speaking === 'true'`, mediaWait)
	viewer.shot("two-tiles")

	// Chat reaches the others, and the sender sees its own line once.
	guest.do("type a message", chromedp.SetValue(chromedp.CSS("#chat-input"), "hello room"))
	guest.click("#chat-send")
	viewer.waitFor("the guest's chat line", `[...document.querySelectorAll('[data-testid=message]')].some(m => m.textContent === 'Gus: hello room')`, 5*time.Second)
	guest.waitFor("the sender's own line", `[...document.querySelectorAll('[data-testid=message]')].filter(m => m.textContent === 'Gus: hello room').length === 1`, 5*time.Second)

	// The guest's socket drops: inside the reconnect grace the page joins
	// again, keeps seat 1 and publishes again; the viewer's seat-1 video
	// (same element, same slot) moves on.
	if err := guest.eval(`seatsfuDemo.session.client.ws.close()`, nil); err != nil {
		t.Fatal(err)
	}
	guest.waitFor("the reconnect", noticeJS("info", "Reconnected"), 15*time.Second)
	guest.waitFor("seat 1 kept and published again", tileJS(1)+`?.dataset.self === 'true' && `+tileJS(1)+`.dataset.camera === 'on'`, mediaWait)
	viewer.waitFor("seat 1 back on", tileJS(1)+`?.dataset.camera === 'on'`, mediaWait)
	resumed := viewer.tiles()
	viewer.waitFor("seat 1's video advancing after the resume", fmt.Sprintf(
		`(tiles => tiles.length === 2 && tiles[1].frames > %d && tiles[1].time > %f)(%s)`,
		resumed[1].Frames, resumed[1].Time, tilesJS), mediaWait)
	guest.shot("reconnected")

	// The guest turns its camera off: everyone sees its placeholder.
	guest.click("#toggle-cam")
	viewer.waitFor("the guest's placeholder", tileJS(1)+`?.dataset.camera === 'off' && getComputedStyle(`+tileJS(1)+`.querySelector('[data-testid=placeholder]')).display !== 'none'`, 10*time.Second)
	if got := viewer.tiles(); len(got) != 2 || got[0].Holder {
		viewer.fail("camera-off must only cover the guest's tile, got %+v", got)
	}
	viewer.shot("guest-camera-off")

	// The owner kicks the guest: one tile left, the guest is told.
	owner.click(`#seat-list [data-seat-row="1"] [data-action=kick]`)
	viewer.waitFor("the grid back to one tile", `document.querySelectorAll('#grid [data-testid=tile]').length === 1 && `+tileJS(0), 10*time.Second)
	guest.waitFor("the kick notice", `[...document.querySelectorAll('[data-testid=notice]')].some(n => n.textContent.includes('removed you from seat 1'))`, 10*time.Second)
	guest.waitFor("the guest's controls back to apply", `!document.getElementById('apply').hidden && document.getElementById('toggle-cam').hidden`, 5*time.Second)
	viewer.shot("after-kick")
	guest.shot("kicked")
	owner.shot("after-kick")

	owner.click("#end-live")
	viewer.waitFor("the end", noticeJS("warn", "The live has ended"), 10*time.Second)
	for _, tb := range []*tab{owner, guest, viewer} {
		if errs := tb.errors(); len(errs) > 0 {
			t.Errorf("[%s] console errors:\n%s", tb.name, strings.Join(errs, "\n"))
		}
	}
	if w := warns.all(); len(w) > 0 {
		t.Errorf("the session logged %d warnings:\n%s", len(w), strings.Join(w, "\n"))
	}
}

// navigate opens the page for room as name, without joining.
func navigate(url, room, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Navigate(fmt.Sprintf("%s/?room=%s&name=%s", url, room, name))
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
