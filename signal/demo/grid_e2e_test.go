package demo

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
	"github.com/seatsfu/seatsfu/signal/token"
)

// A full room: the host and nine guests give ten tiles in seat order, each
// named, the guests who publish nothing behind their placeholders; a guest
// leaving takes exactly its tile away.
func TestFullRoomGrid(t *testing.T) {
	env := signaltest.Start(t, signaltest.WithDemo(Handler()))
	b := newBrowser(t)
	viewer := b.newTab("owner")
	viewer.join(env.URL, "full", "Olivia", "#go-live")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var guests []*signaltest.Conn
	for i := 1; i <= 9; i++ {
		// Co-hosts may take a seat directly; they publish nothing.
		id := token.Identity{UserID: fmt.Sprintf("guest%d", i), Room: "full", Name: fmt.Sprintf("Guest %d", i), Role: proto.RoleAdmin}
		c, err := env.Dial(ctx, env.TokenFor(id, time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		if err := c.Call(ctx, "room.join", nil, nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Call(ctx, "seat.take", map[string]any{"seatIndex": -1}, nil); err != nil {
			t.Fatalf("guest %d seat.take: %v", i, err)
		}
		guests = append(guests, c)
	}

	viewer.waitFor("ten tiles", `document.querySelectorAll('#grid [data-testid=tile]').length === 10`, 10*time.Second)
	viewer.waitFor("the host's video, forwarded", playingJS(0)+` && `+tileJS(0)+`.dataset.camera === 'on'`, mediaWait)
	viewer.shot("full")
	tiles := viewer.tiles()
	for i, tl := range tiles {
		wantName := fmt.Sprintf("Guest %d", i)
		if i == 0 {
			wantName = "Olivia (you)"
		}
		if tl.Seat != fmt.Sprint(i) || tl.Name != wantName {
			t.Errorf("tile %d: seat %s named %q, want seat %d named %q", i, tl.Seat, tl.Name, i, wantName)
		}
		if placeholder := i > 0; tl.Holder != placeholder {
			t.Errorf("tile %d: placeholder shown %v, want %v (camera %q)", i, tl.Holder, placeholder, tl.Camera)
		}
	}

	if err := guests[3].Call(ctx, "seat.leave", nil, nil); err != nil {
		t.Fatal(err)
	}
	viewer.waitFor("seat 4's tile gone, the rest in order",
		`[...document.querySelectorAll('#grid [data-testid=tile]')].map(t => t.dataset.seat).join() === '0,1,2,3,5,6,7,8,9'`, 5*time.Second)
	viewer.shot("one-left")
	if errs := viewer.errors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}
