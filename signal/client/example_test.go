package client_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// hostUI reacts to applications the way a host app would.
type hostUI struct {
	client.NopHostListener
	c *client.Client
}

func (h hostUI) OnGuestApplicationReceived(req proto.Request) {
	fmt.Printf("%s asks for a seat: %q\n", req.From.Name, req.ExtraInfo)
	// Listeners run on the client's dispatcher: hand slow work elsewhere.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := h.c.AcceptApplication(ctx, req.From.UserID); err != nil {
			log.Printf("accept: %v", err)
		}
	}()
}

// A host opens a room and accepts every application; a viewer applies and
// waits for the answer.
func Example() {
	ctx := context.Background()
	wsURL := "ws://127.0.0.1:7880/v1/rtc"
	host, err := client.Dial(ctx, wsURL, "<owner token>")
	if err != nil {
		log.Fatal(err)
	}
	defer host.Close()
	if _, err := host.Join(ctx, &client.CreateOptions{MaxSeats: 6}); err != nil {
		log.Fatal(err)
	}
	host.AddHostListener(hostUI{c: host})

	viewer, err := client.Dial(ctx, wsURL, "<audience token>")
	if err != nil {
		log.Fatal(err)
	}
	defer viewer.Close()
	if _, err := viewer.Join(ctx, nil); err != nil {
		log.Fatal(err)
	}
	if _, err := viewer.ApplyForSeat(ctx, proto.NoSeat, 30*time.Second, "I play the cello"); err != nil {
		log.Fatal(err)
	}
	answer, err := client.Next[proto.ApplicationResponded](ctx, viewer, client.MethodApplicationResponded)
	if err != nil {
		log.Fatal(err)
	}
	if answer.Accepted {
		fmt.Println("on seat", *answer.SeatIndex, "- now publish with viewer.Publish")
	}
}
