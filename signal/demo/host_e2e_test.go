package demo

import (
	"context"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// noticeJS is true once a notice of the level contains text.
func noticeJS(level, text string) string {
	return `[...document.querySelectorAll('[data-testid=notice][data-level=` + level + `]')].some(n => n.textContent.includes(` + "`" + text + "`" + `))`
}

// A host's tools through the page: invite and accept, the host's camera and
// microphone locks (and the guest unmuting after an unlock), locking an
// occupied seat, rejecting an application, a refused request shown with its
// reason, and ending the live.
//
// The room has the most seats a room may have (16), so every subscribe
// offer here is the largest the page ever sends.
func TestHostControlsInBrowsers(t *testing.T) {
	env := signaltest.Start(t, signaltest.WithDemo(Handler()), signaltest.WithMaxSeats(16))
	b := newBrowser(t)

	owner := b.newTab("owner")
	owner.join(env.URL, "hosting", "Olivia", "#go-live")
	guest := b.newTab("guest")
	guest.join(env.URL, "hosting", "Gus", "#join")

	// Invite: the audience list learns of Gus, the invitation reaches him.
	gusRow := `#members li[data-user-id^="Gus-"]`
	owner.waitFor("Gus in the audience list", `document.querySelector('`+gusRow+` [data-action=invite]')`, 10*time.Second)
	owner.click(gusRow + ` [data-action=invite]`)
	owner.waitFor("the invite pending", `document.querySelector('`+gusRow+` [data-action=cancel-invite]')`, 5*time.Second)
	guest.waitFor("the invitation", `!document.getElementById('invitation').hidden && document.getElementById('invitation-text').textContent.includes('Olivia invites you')`, 5*time.Second)
	guest.shot("invited")
	guest.click("#invitation-accept")
	owner.waitFor("the invitation accepted", noticeJS("info", "Gus accepted your invitation"), 5*time.Second)
	owner.waitFor("Gus's video", playingJS(1)+` && `+tileJS(1)+`.dataset.camera === 'on'`, mediaWait)
	owner.waitFor("all 16 seats listed", `document.querySelectorAll('#seat-list li').length === 16`, time.Second)

	// The owner's own camera off and on again, as everyone sees it.
	owner.click("#toggle-cam")
	guest.waitFor("the owner's placeholder", tileJS(0)+`.dataset.camera === 'off' && getComputedStyle(`+tileJS(0)+`.querySelector('[data-testid=placeholder]')).display !== 'none'`, 5*time.Second)
	owner.click("#toggle-cam")
	guest.waitFor("the owner's camera back", tileJS(0)+`.dataset.camera === 'on'`, 5*time.Second)

	// The host stops Gus's camera and mutes his microphone, two clicks in a
	// row: the first one's seat.changed redraws the seat list while the
	// second is under way, and the page must not lose it (rows are updated
	// in place; each button acts on the state at the moment of its click).
	owner.click(`#seat-list [data-seat-row="1"] [data-action=lock-video]`)
	owner.click(`#seat-list [data-seat-row="1"] [data-action=lock-audio]`)
	owner.waitFor("Gus's tile closed by the host", tileJS(1)+`.dataset.camera === 'closedByAdmin' && `+tileJS(1)+`.dataset.microphone === 'closedByAdmin' && getComputedStyle(`+tileJS(1)+`.querySelector('[data-testid=placeholder]')).display !== 'none'`, 5*time.Second)
	guest.waitFor("Gus's own buttons locked", `document.getElementById('toggle-cam').disabled && document.getElementById('toggle-mic').disabled`, 5*time.Second)
	owner.shot("locked-media")
	guest.shot("locked-media")

	// Unlocking does not turn the camera back on: Gus must.
	owner.click(`#seat-list [data-seat-row="1"] [data-action=lock-video]`)
	guest.waitFor("the camera unlocked but off", `!document.getElementById('toggle-cam').disabled && document.getElementById('toggle-cam').textContent === 'Turn camera on'`, 5*time.Second)
	owner.waitFor("the seat off, not on", tileJS(1)+`.dataset.camera === 'off'`, 5*time.Second)
	guest.click("#toggle-cam")
	owner.waitFor("Gus's video back", tileJS(1)+`.dataset.camera === 'on' && getComputedStyle(`+tileJS(1)+`.querySelector('[data-testid=placeholder]')).display === 'none'`, mediaWait)

	// Locking an occupied seat removes its guest.
	owner.click(`#seat-list [data-seat-row="1"] [data-action=lock]`)
	guest.waitFor("the kick by lock", noticeJS("warn", "removed you from seat 1"), 5*time.Second)
	owner.waitFor("seat 1 locked and empty", `document.querySelector('#seat-list [data-seat-row="1"]').dataset.locked === 'true' && !`+tileJS(1), 5*time.Second)
	owner.shot("seat-locked")

	// An application, rejected; then a second one, which the audience list
	// offers for acceptance only (inviting an applicant would conflict).
	guest.click("#apply")
	owner.waitFor("the application", `document.querySelector('#applicants li [data-action=reject]')`, 5*time.Second)
	owner.click("#applicants li [data-action=reject]")
	guest.waitFor("the rejection", noticeJS("warn", "Olivia declined your application"), 5*time.Second)
	guest.waitFor("apply offered again", `!document.getElementById('apply').hidden`, 5*time.Second)
	guest.click("#apply")
	owner.waitFor("the second application", `document.querySelector('#applicants li [data-action=accept]')`, 5*time.Second)
	owner.waitFor("no invite for an applicant", `document.querySelector('`+gusRow+` .note').textContent === 'asks for a seat' && getComputedStyle(document.querySelector('`+gusRow+` .invite')).visibility === 'hidden'`, 5*time.Second)

	// A request the server refuses shows its reason: Amy already holds a
	// co-host's invitation (sent by a raw client the page knows nothing
	// of), so the owner's invite is refused.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	amy, err := env.Dial(ctx, env.Token("hosting", "amy", proto.RoleAudience))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(amy.Close)
	cohost, err := env.Dial(ctx, env.Token("hosting", "ada", proto.RoleAdmin))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cohost.Close)
	for _, c := range []*signaltest.Conn{amy, cohost} {
		if err := c.Call(ctx, "room.join", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := cohost.Call(ctx, "seat.invite", map[string]any{"userId": "amy", "seatIndex": -1, "timeout": 60}, nil); err != nil {
		t.Fatal(err)
	}
	owner.waitFor("Amy in the audience list", `document.querySelector('#members li[data-user-id=amy] [data-action=invite]')`, 10*time.Second)
	owner.click(`#members li[data-user-id=amy] [data-action=invite]`)
	owner.waitFor("the refused invite, with its reason", noticeJS("error", "Inviting amy failed")+` && `+noticeJS("error", "already_applied"), 5*time.Second)
	owner.shot("refused-invite")

	// The owner's socket drops: the page rejoins (its create is ignored for
	// a room that exists), keeps seat 0 and the host panel, and publishes
	// again; Gus sees the video come back.
	if err := owner.eval(`seatsfuDemo.session.client.ws.close()`, nil); err != nil {
		t.Fatal(err)
	}
	owner.waitFor("the owner reconnected", noticeJS("info", "Reconnected")+` && !document.getElementById('host-panel').hidden`, 15*time.Second)
	owner.waitFor("the pending application still listed", `document.querySelectorAll('#applicants li').length === 1`, 5*time.Second)
	guest.waitFor("the owner's video forwarded again", tileJS(0)+`.dataset.camera === 'on' && `+playingJS(0), mediaWait)

	// The owner ends the live: both pages say so and go back to the form.
	owner.click("#end-live")
	guest.waitFor("the end notice", noticeJS("warn", "The live has ended: the host ended it"), 5*time.Second)
	guest.waitFor("the guest back at the form", `!document.getElementById('join-form').hidden && document.getElementById('live').hidden`, 5*time.Second)
	owner.waitFor("the owner back at the form", `!document.getElementById('join-form').hidden && document.getElementById('grid').children.length === 0`, 5*time.Second)
	guest.shot("ended")

	for _, tb := range []*tab{owner, guest} {
		if errs := tb.errors(); len(errs) > 0 {
			t.Errorf("[%s] console errors:\n%v", tb.name, errs)
		}
	}
}
