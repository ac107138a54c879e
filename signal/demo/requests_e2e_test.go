package demo

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
	"github.com/seatsfu/seatsfu/signal/token"
)

// Requests nobody answers end with words on both sides: an invitation from
// a co-host (a raw client) times out at the invitee's page, and an
// application times out at the applicant's and at the host's. The owner
// enters with ?token= (a token it minted itself, no dev endpoint needed).
func TestUnansweredRequestsInBrowsers(t *testing.T) {
	env := signaltest.Start(t, signaltest.WithDemo(Handler()))
	b := newBrowser(t)

	owner := b.newTab("owner")
	tok := env.TokenFor(token.Identity{UserID: "olivia", Room: "quiet", Name: "Olivia Host", Role: proto.RoleOwner}, time.Hour)
	owner.do("open the page with a token", chromedp.Navigate(env.URL+"/?token="+url.QueryEscape(tok)))
	owner.waitFor("the token's identity shown", `document.getElementById('name').value === 'Olivia Host' && document.getElementById('room').value === 'quiet' && document.getElementById('name').disabled && document.getElementById('join').hidden`, 10*time.Second)
	owner.shot("token-form")
	owner.click("#go-live")
	owner.waitFor("live as the token's owner", `document.getElementById('conn').dataset.state === 'live' && seatsfuDemo.session.self.userId === 'olivia'`, 10*time.Second)

	guest := b.newTab("guest")
	guest.do("open the page", chromedp.Navigate(env.URL+"/?room=quiet&name=Gus&applyTimeout=1"))
	guest.waitFor("the app", `document.body.dataset.ready === 'true'`, 10*time.Second)
	guest.click("#join")
	guest.waitFor("live", `document.getElementById('conn').dataset.state === 'live'`, 10*time.Second)
	var gusID string
	if err := guest.eval(`seatsfuDemo.session.self.userId`, &gusID); err != nil {
		t.Fatal(err)
	}

	// A co-host invites Gus for one second.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	admin, err := env.Dial(ctx, env.Token("quiet", "ada", proto.RoleAdmin))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	if err := admin.Call(ctx, "room.join", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := admin.Call(ctx, "seat.invite", map[string]any{"userId": gusID, "seatIndex": -1, "timeout": 1}, nil); err != nil {
		t.Fatal(err)
	}
	guest.waitFor("the invitation", `!document.getElementById('invitation').hidden && document.getElementById('apply').hidden`, 5*time.Second)
	guest.waitFor("the invitation's timeout", noticeJS("warn", "Invitation from ada ended: it timed out")+` && document.getElementById('invitation').hidden && !document.getElementById('apply').hidden`, 5*time.Second)
	guest.shot("invitation-timed-out")

	// Gus applies for one second; nobody answers.
	guest.click("#apply")
	owner.waitFor("the application listed", `document.querySelectorAll('#applicants li').length === 1`, 5*time.Second)
	guest.waitFor("the application's timeout", noticeJS("warn", "No host answered your application in time")+` && !document.getElementById('apply').hidden && document.getElementById('cancel-apply').hidden`, 5*time.Second)
	owner.waitFor("the application gone at the host", `document.querySelectorAll('#applicants li').length === 0 && `+noticeJS("info", "Gus's application ended: timed out"), 5*time.Second)
	guest.shot("application-timed-out")
	owner.shot("application-timed-out")

	for _, tb := range []*tab{owner, guest} {
		if errs := tb.errors(); len(errs) > 0 {
			t.Errorf("[%s] console errors: %v", tb.name, errs)
		}
	}
}
