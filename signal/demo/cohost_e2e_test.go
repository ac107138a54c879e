package demo

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// cohostTileJS is co-host slot k's tile.
func cohostTileJS(k int) string {
	return fmt.Sprintf(`document.querySelector('#cohost-grid [data-testid=tile][data-cohost="%d"]')`, k)
}

// tilesPlayingJS is true once exactly n tiles show, each playing video.
func tilesPlayingJS(n int) string {
	return fmt.Sprintf(`(ts => ts.length === %d && ts.every(t => t.querySelector('video').videoWidth > 0 && t.querySelector('video').currentTime > 0))([...document.querySelectorAll('[data-testid=tile]')])`, n)
}

// Two hosts in two tabs connect their lives; a viewer of each sees two
// tiles, its own host and the other room's; a battle shows its score bar
// and a score; disconnecting takes the other tile away.
func TestCohostInBrowsers(t *testing.T) {
	env := signaltest.Start(t, signaltest.WithDemo(Handler()))
	b := newBrowser(t)

	left := b.newTab("left-host")
	left.join(env.URL, "left", "Lena", "#go-live")
	right := b.newTab("right-host")
	right.join(env.URL, "right", "Rami", "#go-live")
	leftFan := b.newTab("left-viewer")
	leftFan.join(env.URL, "left", "Vic", "#join")
	rightFan := b.newTab("right-viewer")
	rightFan.join(env.URL, "right", "Wes", "#join")
	leftFan.waitFor("Lena's video", playingJS(0), mediaWait)
	rightFan.waitFor("Rami's video", playingJS(0), mediaWait)

	// Only the owner gets the co-host controls.
	leftFan.waitFor("no co-host panel for viewers", `document.getElementById('cohost-panel').hidden`, time.Second)
	left.do("type the other room", chromedp.SetValue(chromedp.CSS("#cohost-room"), "right"))
	left.click("#cohost-request")
	right.waitFor("the request", `document.querySelector('#cohost-requests [data-action=cohost-accept]')`, 5*time.Second)
	right.shot("cohost-request")
	right.click("#cohost-requests [data-action=cohost-accept]")
	left.waitFor("connected", noticeJS("info", "right accepted"), 5*time.Second)

	leftFan.waitFor("two tiles playing: Lena and Rami", tilesPlayingJS(2)+` && `+cohostTileJS(1)+`.dataset.roomId === 'right'`, mediaWait)
	rightFan.waitFor("two tiles playing: Rami and Lena", tilesPlayingJS(2)+` && `+cohostTileJS(1)+`.dataset.roomId === 'left'`, mediaWait)
	leftFan.shot("two-tiles")
	rightFan.shot("two-tiles")

	// A battle, scored through the dev-mode endpoint.
	left.click("#battle-start")
	rightFan.waitFor("the score bar", `!document.getElementById('battle-bar').hidden && document.querySelectorAll('#battle-bar [data-room-id]').length === 2`, 5*time.Second)
	right.waitFor("the +1 buttons", `document.querySelector('#battle-bar [data-room-id=right] [data-action=score]')`, 5*time.Second)
	// One tap, its point shown, then the next: the segment grows with its
	// share (a CSS transition), so a second tap must wait for the first.
	right.click("#battle-bar [data-room-id=right] [data-action=score]")
	right.waitFor("its first point, the bar at rest", `document.querySelector('#battle-bar [data-room-id=right]')?.dataset.score === '1' && document.getElementById('battle-bar').getAnimations({subtree: true}).length === 0`, 5*time.Second)
	right.click("#battle-bar [data-room-id=right] [data-action=score]")
	leftFan.waitFor("right's score at the other room", `document.querySelector('#battle-bar [data-room-id=right]')?.dataset.score === '2'`, 5*time.Second)
	leftFan.shot("battle")
	right.click("#battle-stop")
	leftFan.waitFor("the result", noticeJS("info", "winner: right"), 5*time.Second)

	right.click("#cohost-leave")
	leftFan.waitFor("back to one tile", `document.querySelectorAll('[data-testid=tile]').length === 1 && !`+cohostTileJS(1), 5*time.Second)
	rightFan.waitFor("back to one tile", `document.querySelectorAll('[data-testid=tile]').length === 1`, 5*time.Second)
	for _, tb := range []*tab{left, right, leftFan, rightFan} {
		if errs := tb.errors(); len(errs) > 0 {
			t.Errorf("[%s] console errors: %v", tb.name, errs)
		}
	}
}
