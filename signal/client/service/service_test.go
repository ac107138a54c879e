package service_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seatsfu/seatsfu/signal/client/service"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
	"github.com/seatsfu/seatsfu/signal/token"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The service client against a real server: each call reaches its
// endpoint, and refusals come back as *service.Error with status and
// reason.
func TestServiceClient(t *testing.T) {
	env := signaltest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	owner, err := env.Dial(ctx, env.Token("r", "olive", proto.RoleOwner))
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	if err := owner.Call(ctx, "room.join", map[string]any{"create": map[string]any{"seatMode": "free"}}, nil); err != nil {
		t.Fatal(err)
	}
	ann, err := env.Dial(ctx, env.Token("r", "ann", proto.RoleAudience))
	if err != nil {
		t.Fatal(err)
	}
	defer ann.Close()
	if err := ann.Call(ctx, "room.join", nil, nil); err != nil {
		t.Fatal(err)
	}
	raw, _ := token.MintService(env.Secret, "backend", time.Hour)
	c, err := service.New(env.URL, raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	list, err := c.ListRooms(ctx, "", 10)
	must("ListRooms", err)
	if len(list.Rooms) != 1 || list.Rooms[0].RoomID != "r" {
		t.Fatalf("rooms %+v", list)
	}
	title := "hello"
	must("UpdateRoom", c.UpdateRoom(ctx, "r", proto.RoomUpdateParams{Title: &title}))
	info, err := c.Room(ctx, "r")
	must("Room", err)
	if info.Title != "hello" || info.MemberCount != 2 {
		t.Fatalf("room %+v", info)
	}
	members, err := c.Members(ctx, "r", "", 0)
	must("Members", err)
	if len(members.Members) != 2 {
		t.Fatalf("members %+v", members)
	}
	must("SetRole", c.SetRole(ctx, "r", "ann", proto.RoleAdmin))
	must("SetChatMuted", c.SetChatMuted(ctx, "r", "ann", true))
	must("SendText", c.SendText(ctx, "r", "hi"))
	must("SendCommand", c.SendCommand(ctx, "r", "gift", "{}"))
	if err := ann.Call(ctx, "seat.take", map[string]any{"seatIndex": 1}, nil); err != nil {
		t.Fatal(err)
	}
	must("KickSeat", c.KickSeat(ctx, "r", 1))
	locked := true
	must("LockSeat", c.LockSeat(ctx, "r", 2, proto.APISeatLock{LockSeat: &locked}))
	must("KickOut", c.KickOut(ctx, "r", "ann", true))
	must("Unban", c.Unban(ctx, "r", "ann"))

	var apiErr *service.Error
	if err := c.Unban(ctx, "r", "ann"); !errors.As(err, &apiErr) || apiErr.Status != 404 || apiErr.Reason != "not_banned" {
		t.Fatalf("second Unban: %v", err)
	}
	if err := c.AddScore(ctx, "b1", "r", 3); !errors.As(err, &apiErr) || apiErr.Status != 404 || apiErr.Reason != "battle_not_found" {
		t.Fatalf("AddScore without battles: %v", err)
	}
	must("EndRoom", c.EndRoom(ctx, "r"))
	if _, err := c.Room(ctx, "r"); !errors.As(err, &apiErr) || apiErr.Status != 404 {
		t.Fatalf("Room after end: %v", err)
	}
	bad, _ := service.New(env.URL, "junk", nil)
	if _, err := bad.ListRooms(ctx, "", 0); !errors.As(err, &apiErr) || apiErr.Status != 401 {
		t.Fatalf("bad token: %v", err)
	}
	if _, err := service.New("ftp://x", raw, nil); err == nil {
		t.Fatal("an ftp base URL was accepted")
	}
}
