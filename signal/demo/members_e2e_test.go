package demo

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// The host's audience list pages through room.members: a first page of
// 20 members (the owner's row left out), a More button for the rest, every
// viewer once; the header counts everyone from room.stats.
func TestAudienceListPages(t *testing.T) {
	env := signaltest.Start(t, signaltest.WithDemo(Handler()))
	b := newBrowser(t)
	owner := b.newTab("owner")
	owner.join(env.URL, "crowd", "Olivia", "#go-live")

	const viewers = 24
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range viewers {
		c, err := env.Dial(ctx, env.Token("crowd", fmt.Sprintf("viewer%02d", i), proto.RoleAudience))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		if err := c.Call(ctx, "room.join", nil, nil); err != nil {
			t.Fatalf("viewer %d join: %v", i, err)
		}
	}

	owner.waitFor("everyone counted", fmt.Sprintf(`document.getElementById('viewer-count').textContent === '%d'`, viewers+1), 10*time.Second)
	// Every join has reached the owner (room.stats comes after them on its
	// socket); once their debounced reload has been sent, Refresh starts
	// over at one page.
	owner.waitFor("no automatic reload pending", `seatsfuDemo.session.host.refreshTimer === null`, 5*time.Second)
	owner.click("#members-refresh")
	// The page's 20 members include the owner, who is not in the audience.
	owner.waitFor("a first page and More", `document.querySelectorAll('#members li').length === 19 && !document.getElementById('members-more').hidden`, 5*time.Second)
	owner.shot("first-page")
	owner.click("#members-more")
	owner.waitFor("every viewer once, no More", fmt.Sprintf(
		`document.querySelectorAll('#members li').length === %d && new Set([...document.querySelectorAll('#members li')].map(l => l.dataset.userId)).size === %d && document.getElementById('members-more').hidden && !document.querySelector('#members li[data-user-id^="Olivia-"]')`,
		viewers, viewers), 5*time.Second)
	// One more viewer arrives: the list reloads without losing the second page.
	late, err := env.Dial(ctx, env.Token("crowd", "late", proto.RoleAudience))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(late.Close)
	if err := late.Call(ctx, "room.join", nil, nil); err != nil {
		t.Fatal(err)
	}
	owner.waitFor("the newcomer listed, nobody lost", fmt.Sprintf(
		`document.querySelectorAll('#members li').length === %d && document.querySelector('#members li[data-user-id=late]')`, viewers+1), 5*time.Second)

	var invites int
	if err := owner.eval(`document.querySelectorAll('#members li [data-action=invite]').length`, &invites); err != nil {
		t.Fatal(err)
	}
	if invites != viewers+1 {
		t.Errorf("want an Invite button for each of the %d viewers, got %d", viewers+1, invites)
	}
	owner.shot("all-members")
	if errs := owner.errors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}
