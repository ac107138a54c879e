package signal_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

func reasonIs(want string) func(json.RawMessage) bool {
	return func(p json.RawMessage) bool {
		var v struct {
			Reason string `json:"reason"`
		}
		return json.Unmarshal(p, &v) == nil && v.Reason == want
	}
}

func userIs(want string) func(json.RawMessage) bool {
	return func(p json.RawMessage) bool {
		var v struct {
			User proto.User `json:"user"`
		}
		return json.Unmarshal(p, &v) == nil && v.User.UserID == want
	}
}

func TestJoinTakeLeaveEnd(t *testing.T) {
	env := signaltest.Start(t)
	owner, snap := join(t, env, "r1", "boss", proto.RoleOwner,
		map[string]any{"create": map[string]any{"maxSeats": 4, "seatMode": "free"}})
	if snap.Room.MaxSeats != 4 || snap.Room.SeatMode != proto.ModeFree || len(snap.Seats) != 4 ||
		snap.Seats[0].User == nil || snap.Seats[0].User.UserID != "boss" || snap.Self.Role != proto.RoleOwner {
		t.Fatalf("owner snapshot %+v", snap)
	}
	ann, snap := join(t, env, "r1", "ann", proto.RoleAudience, nil)
	if snap.Room.MemberCount != 2 || snap.Self.UserID != "ann" || snap.Room.MaxSeats != 4 {
		t.Fatalf("audience snapshot %+v", snap)
	}
	wait(t, owner, "room.memberJoined", userIs("ann"))

	var took struct{ SeatIndex int }
	call(t, ann, "seat.take", map[string]any{"seatIndex": -1}, &took)
	if took.SeatIndex != 1 {
		t.Fatalf("took seat %d", took.SeatIndex)
	}
	wait(t, owner, "seat.changed", nil)
	wait(t, ann, "seat.changed", nil)

	wantReason(t, owner, "room.leave", nil, "owner_cannot_leave")
	call(t, ann, "room.leave", nil, nil)
	wait(t, owner, "room.memberLeft", userIs("ann"))
	wait(t, owner, "seat.changed", func(p json.RawMessage) bool {
		var v proto.SeatChanged
		return json.Unmarshal(p, &v) == nil && len(v.Left) == 1 && v.Left[0].Reason == proto.LeftLeft
	})
	// The left socket stays open but speaks for nobody.
	wantReason(t, ann, "room.members", nil, "not_joined")
	if ids := memberIDs(t, owner); len(ids) != 1 {
		t.Fatalf("members after leave: %v", ids)
	}

	bob, _ := join(t, env, "r1", "bob", proto.RoleAudience, nil)
	call(t, owner, "room.end", nil, nil)
	for _, c := range []*signaltest.Conn{owner, bob} {
		wait(t, c, "room.ended", reasonIs(proto.EndedByOwner))
		if code, err := c.Closed(testCtx(t)); err != nil || code != websocket.StatusNormalClosure {
			t.Fatalf("after room.ended: close %v %v", code, err)
		}
	}
	eventually(t, "room gone from the sfu", func() bool { return env.SFU.Room("r1") == nil })
	if ann.Count("room.ended") != 0 {
		t.Fatal("a socket that left the room was told it ended")
	}
}

// Nothing a client sends gets it a role, a seat or a room it may not have.
func TestRoleEscalationRefused(t *testing.T) {
	env := signaltest.Start(t)
	// An admin or audience cannot open a room, with or without create.
	for _, role := range []proto.Role{proto.RoleAdmin, proto.RoleAudience} {
		c := dial(t, env, "r1", "sneak-"+string(role), role)
		wantReason(t, c, "room.join", nil, "room_not_found")
		wantReason(t, c, "room.join", map[string]any{"create": map[string]any{"maxSeats": 4}}, "permission_denied")
	}
	if env.SFU.Room("r1") != nil {
		t.Fatal("a non-owner opened a room")
	}
	owner, _ := join(t, env, "r1", "boss", proto.RoleOwner, nil)
	// A second owner token for an opened room is not the owner.
	impostor := dial(t, env, "r1", "boss2", proto.RoleOwner)
	wantReason(t, impostor, "room.join", nil, "permission_denied")

	ann, _ := join(t, env, "r1", "ann", proto.RoleAudience, nil)
	admin, _ := join(t, env, "r1", "adam", proto.RoleAdmin, nil)
	wantReason(t, ann, "room.join", map[string]any{"create": map[string]any{"maxSeats": 16}}, "invalid_params") // already joined
	wantReason(t, ann, "seat.take", map[string]any{"seatIndex": 1}, "permission_denied")                        // apply mode
	wantReason(t, admin, "seat.take", map[string]any{"seatIndex": 0}, "seat_index_invalid")
	wantReason(t, ann, "seat.kick", map[string]any{"userId": "boss"}, "permission_denied")
	wantReason(t, ann, "seat.lock", map[string]any{"seatIndex": 1, "lockSeat": true}, "permission_denied")
	wantReason(t, ann, "seat.invite", map[string]any{"userId": "adam", "seatIndex": 1, "timeout": 0}, "permission_denied")
	wantReason(t, ann, "room.kickOut", map[string]any{"userId": "adam"}, "permission_denied")
	wantReason(t, ann, "room.end", nil, "permission_denied")
	wantReason(t, admin, "room.end", nil, "permission_denied")
	wantReason(t, admin, "room.kickOut", map[string]any{"userId": "boss"}, "permission_denied")

	if n := owner.Count("seat.changed") + ann.Count("seat.changed"); n != 0 {
		t.Fatalf("%d seat.changed after refused operations", n)
	}
	if ids := memberIDs(t, owner); len(ids) != 3 {
		t.Fatalf("members %v", ids)
	}
}

func TestApplyAcceptRoutesAndCounts(t *testing.T) {
	env := signaltest.Start(t)
	owner, _ := join(t, env, "r1", "boss", proto.RoleOwner, nil)
	admin, _ := join(t, env, "r1", "adam", proto.RoleAdmin, nil)
	ann, _ := join(t, env, "r1", "ann", proto.RoleAudience, nil)
	bob, _ := join(t, env, "r1", "bob", proto.RoleAudience, nil)

	var req struct{ RequestID string }
	call(t, ann, "seat.apply", map[string]any{"seatIndex": -1, "timeout": 30, "extraInfo": "hi"}, &req)
	if req.RequestID == "" {
		t.Fatal("no request id")
	}
	wantReason(t, ann, "seat.apply", map[string]any{"seatIndex": -1, "timeout": 30}, "already_applied")
	wait(t, owner, "seat.applicationReceived", nil)
	wait(t, admin, "seat.applicationReceived", nil)

	var got struct{ SeatIndex int }
	call(t, admin, "seat.acceptApplication", map[string]any{"userId": "ann"}, &got)
	wait(t, ann, "seat.applicationResponded", nil)
	wait(t, owner, "seat.applicationProcessedByOtherHost", nil)
	wantReason(t, owner, "seat.acceptApplication", map[string]any{"userId": "ann"}, "request_not_found")
	for _, c := range []*signaltest.Conn{owner, admin, ann, bob} {
		wait(t, c, "seat.changed", nil)
	}
	// Host-only and user-only notifications never reach the rest.
	call(t, bob, "room.members", nil, nil) // a round trip: bob has had every frame sent before it
	for _, m := range []string{"seat.applicationReceived", "room.memberJoined", "seat.applicationResponded"} {
		if bob.Count(m) != 0 {
			t.Fatalf("bob got %s", m)
		}
	}
	if admin.Count("seat.applicationProcessedByOtherHost") != 0 {
		t.Fatal("the answering host was told another host answered")
	}
	body := scrape(t, env)
	for _, want := range []string{
		`seatsfu_seat_requests_total{kind="apply",outcome="accepted"} 1`,
		`seatsfu_signal_requests_total{method="seat.apply",outcome="already_applied"} 1`,
		`seatsfu_signal_requests_total{method="room.join",outcome="ok"} 4`,
		`seatsfu_participants{role="audience"} 2`,
		`seatsfu_participants{role="owner"} 1`,
		`seatsfu_join_duration_seconds_count 4`,
	} {
		if !contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestSessionReplaced(t *testing.T) {
	env := signaltest.Start(t, signaltest.WithGrace(time.Hour))
	owner, _ := join(t, env, "r1", "boss", proto.RoleOwner, map[string]any{"create": map[string]any{"seatMode": "free"}})
	first, _ := join(t, env, "r1", "ann", proto.RoleAudience, nil)
	call(t, first, "seat.take", map[string]any{"seatIndex": 2}, nil)

	second, snap := join(t, env, "r1", "ann", proto.RoleAudience, nil)
	wait(t, first, "session.replaced", nil)
	if _, err := first.Closed(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	// The seat came along; the old socket's end did not disconnect anyone.
	if snap.Seats[2].User == nil || snap.Seats[2].User.UserID != "ann" {
		t.Fatalf("resumed snapshot seats %+v", snap.Seats)
	}
	call(t, second, "seat.move", map[string]any{"seatIndex": 3}, nil)
	call(t, owner, "room.members", nil, nil)
	if owner.Count("room.memberLeft") != 0 {
		t.Fatal("replacing a socket made the user leave")
	}
	if ids := memberIDs(t, owner); len(ids) != 2 {
		t.Fatalf("members %v", ids)
	}
	if second.Count("session.replaced") != 0 {
		t.Fatal("the new socket was told it was replaced")
	}
}

func TestKickOutClosesAndBans(t *testing.T) {
	env := signaltest.Start(t)
	owner, _ := join(t, env, "r1", "boss", proto.RoleOwner, nil)
	ann, _ := join(t, env, "r1", "ann", proto.RoleAudience, nil)
	call(t, owner, "room.kickOut", map[string]any{"userId": "ann"}, nil)
	wait(t, ann, "room.kickedOut", nil)
	if _, err := ann.Closed(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	wait(t, owner, "room.memberLeft", userIs("ann"))
	again := dial(t, env, "r1", "ann", proto.RoleAudience)
	wantReason(t, again, "room.join", nil, "banned")
}

// A dropped socket keeps the member for the grace, then it leaves.
func TestDropThenGraceExpiry(t *testing.T) {
	env := signaltest.Start(t, signaltest.WithGrace(50*time.Millisecond))
	owner, _ := join(t, env, "r1", "boss", proto.RoleOwner, nil)
	ann, _ := join(t, env, "r1", "ann", proto.RoleAudience, nil)
	ann.Close()
	wait(t, owner, "room.memberLeft", func(p json.RawMessage) bool { return userIs("ann")(p) && reasonIs("disconnected")(p) })
}

func TestPingTimeoutDropsSilentPeer(t *testing.T) {
	env := signaltest.Start(t, signaltest.WithPing(50*time.Millisecond, 400*time.Millisecond),
		signaltest.WithGrace(10*time.Millisecond))
	owner, _ := join(t, env, "r1", "boss", proto.RoleOwner, nil)
	// A client that joins and then never reads: it answers no ping.
	ws, _, err := websocket.Dial(testCtx(t), env.WSURL+"?token="+env.Token("r1", "mute", proto.RoleAudience), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(testCtx(t), websocket.MessageText, []byte(`{"jsonrpc":"2.0","id":1,"method":"room.join"}`)); err != nil {
		t.Fatal(err)
	}
	wait(t, owner, "room.memberJoined", userIs("mute"))
	start := time.Now()
	wait(t, owner, "room.memberLeft", userIs("mute"))
	if time.Since(start) < 300*time.Millisecond {
		t.Fatalf("dropped after %v, before the ping timeout", time.Since(start))
	}
	// The owner reads (and so answers pings): many timeouts later it is still in.
	if err := owner.Err(); err != nil {
		t.Fatalf("a responsive socket was dropped: %v", err)
	}
	call(t, owner, "room.members", nil, nil)
}

func TestOversizeFrameCloses1009(t *testing.T) {
	env := signaltest.Start(t)
	c, _ := join(t, env, "r1", "boss", proto.RoleOwner, nil)
	big := `{"jsonrpc":"2.0","id":1,"method":"room.sendMessage","params":{"text":"` + string(make([]byte, 70<<10)) + `"}}`
	_ = c.Send(testCtx(t), []byte(big))
	code, err := c.Closed(testCtx(t))
	if err != nil || code != websocket.StatusMessageTooBig {
		t.Fatalf("close %v %v, want 1009", code, err)
	}
}

func TestMembersPagingAndRoomFull(t *testing.T) {
	env := signaltest.Start(t, signaltest.WithMaxMembers(4))
	owner, _ := join(t, env, "r1", "boss", proto.RoleOwner, nil)
	for _, u := range []string{"a", "b", "c"} {
		join(t, env, "r1", u, proto.RoleAudience, nil)
	}
	late := dial(t, env, "r1", "d", proto.RoleAudience)
	wantReason(t, late, "room.join", nil, "room_full")

	seen := map[string]bool{}
	cursor := ""
	for page := 0; ; page++ {
		if page > 4 {
			t.Fatal("paging does not end")
		}
		var res struct {
			Members    []proto.User
			NextCursor string
		}
		call(t, owner, "room.members", map[string]any{"cursor": cursor, "limit": 1}, &res)
		if len(res.Members) > 1 {
			t.Fatalf("limit 1 gave %d", len(res.Members))
		}
		for _, m := range res.Members {
			if seen[m.UserID] {
				t.Fatalf("%s listed twice", m.UserID)
			}
			seen[m.UserID] = true
		}
		if cursor = res.NextCursor; cursor == "" {
			break
		}
	}
	if len(seen) != 4 || !seen["boss"] || seen["d"] {
		t.Fatalf("members %v", seen)
	}
	wantReason(t, owner, "room.members", map[string]any{"cursor": "forged"}, "invalid_params")
}
