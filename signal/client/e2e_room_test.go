package client_test

// Room membership: join, snapshot, errors, members, messages, stats, leave,
// end, kick out, session replacement, and bad frames.

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

func TestJoinSnapshotAndJoinErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	ctx := ctxT(t)

	early := e.dial(room, "ann", proto.RoleAudience)
	_, err := early.Join(ctx, nil)
	refused(t, "audience joining an unopened room", err, client.ErrRoomNotFound)
	adm := e.dial(room, "adam", proto.RoleAdmin)
	_, err = adm.Join(ctx, nil)
	refused(t, "admin joining an unopened room", err, client.ErrRoomNotFound)

	owner := e.dial(room, "olive", proto.RoleOwner)
	refused(t, "a method before room.join", owner.Call(ctx, "room.members", nil, nil), client.ErrNotJoined)
	_, err = owner.ApplyForSeat(ctx, proto.NoSeat, 0, "")
	refused(t, "seat.apply before room.join", err, client.ErrNotJoined)
	_, err = owner.Join(ctx, &client.CreateOptions{MaxSeats: 17})
	refused(t, "creating 17 seats", err, client.ErrInvalidParams)
	_, err = owner.Join(ctx, &client.CreateOptions{SeatMode: "auction"})
	refused(t, "an unknown seat mode", err, client.ErrInvalidParams)
	snap, err := owner.Join(ctx, &client.CreateOptions{MaxSeats: 6, SeatMode: proto.ModeApply})
	must(t, "owner creates", err)
	if snap.Room.RoomID != room || snap.Room.MaxSeats != 6 || snap.Room.SeatMode != proto.ModeApply || snap.Room.MemberCount != 1 {
		t.Errorf("owner's snapshot room = %+v", snap.Room)
	}
	if snap.Self.UserID != "olive" || snap.Self.Role != proto.RoleOwner {
		t.Errorf("owner's snapshot self = %+v", snap.Self)
	}
	if len(snap.Seats) != 6 || seatUser(snap.Seats, 0) != "olive" {
		t.Fatalf("owner's snapshot seats = %+v", snap.Seats)
	}
	for i, s := range snap.Seats {
		if s.Index != i || (i > 0 && (s.User != nil || s.Locked || s.AudioLocked || s.VideoLocked)) ||
			s.Microphone == proto.DeviceOn || s.Camera == proto.DeviceOn {
			t.Errorf("fresh seat %d = %+v", i, s)
		}
	}
	if len(snap.Requests) != 0 {
		t.Errorf("fresh room has requests %+v", snap.Requests)
	}

	_, err = early.Join(ctx, nil)
	must(t, "audience joins once the room is open", err)
	aSnap, err := early.Join(ctx, nil)
	if err == nil {
		t.Errorf("joining twice on one socket succeeded: %+v", aSnap)
	}
	other := e.dial(room, "bob", proto.RoleAudience)
	_, err = other.Join(ctx, &client.CreateOptions{MaxSeats: 2})
	refused(t, "audience asking to create", err, client.ErrPermission)
	_, err = other.Join(ctx, nil)
	must(t, "bob joins", err)
	if r := other.Room(); r.MaxSeats != 6 || r.MemberCount != 3 {
		t.Errorf("audience snapshot room = %+v", r)
	}
	second := e.dial(room, "otto", proto.RoleOwner)
	_, err = second.Join(ctx, nil)
	refused(t, "a second owner", err, client.ErrPermission)

	_, err = client.Dial(ctx, e.wsURL, "not-a-token")
	var de *client.DialError
	if !errors.As(err, &de) || de.StatusCode != http.StatusUnauthorized {
		t.Errorf("dial with a garbage token = %v, want HTTP 401", err)
	}
	// The token may come in the query too.
	q, err := client.Dial(ctx, e.wsURL, e.token(room, "quinn", proto.RoleAudience), client.WithTokenInQuery())
	must(t, "dial with ?token=", err)
	defer q.Close()
	_, err = q.Join(ctx, nil)
	must(t, "join via a query token", err)
}

func TestBadFramesChangeNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, nil)
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	ctx := ctxT(t)

	frames := []struct {
		frame string
		want  *client.Error
	}{
		{`{nope`, client.ErrParse},
		{`[{"jsonrpc":"2.0","id":1,"method":"room.members"}]`, client.ErrInvalidRequest},
		{`{"jsonrpc":"1.0","id":2,"method":"room.members"}`, client.ErrInvalidRequest},
		{`{"jsonrpc":"2.0","id":3,"method":"seat.takeEverything","params":{}}`, client.ErrMethodNotFound},
		{`{"jsonrpc":"2.0","id":4,"method":"seat.apply","params":{"seatIndex":"one","timeout":0}}`, client.ErrInvalidParams},
		{`{"jsonrpc":"2.0","id":5,"method":"seat.apply","params":[1,2]}`, client.ErrInvalidParams},
		{`{"jsonrpc":"2.0","id":6,"method":"seat.apply","params":{"seatIndex":1,"timeout":-5}}`, client.ErrInvalidParams},
		{`{"jsonrpc":"2.0","id":7,"method":"seat.apply","params":{"seatIndex":1,"timeout":0,"extraInfo":"` + strings.Repeat("x", 1025) + `"}}`, client.ErrInvalidParams},
		{`{"jsonrpc":"2.0","id":8,"method":"room.members","params":{"limit":101}}`, client.ErrInvalidParams},
		{`{"jsonrpc":"2.0","id":9,"method":"room.members","params":{"limit":0}}`, client.ErrInvalidParams},
		{`{"jsonrpc":"2.0","id":10,"method":"room.members","params":{"cursor":"forged"}}`, client.ErrInvalidParams},
	}
	for _, f := range frames {
		must(t, "write "+f.frame, ann.WriteRaw([]byte(f.frame)))
		ev, err := ann.NextResponse(ctx)
		must(t, "answer to "+f.frame, err)
		if !errors.Is(ev.Err, f.want) {
			t.Errorf("%s → %v (id %s), want %v", f.frame, ev.Err, ev.ID, f.want)
		}
	}
	// Out-of-range values through the typed API.
	_, err := ann.ApplyForSeat(ctx, 0, 0, "")
	refused(t, "applying for seat 0", err, client.ErrSeatIndexInvalid)
	_, err = ann.ApplyForSeat(ctx, 10, 0, "")
	refused(t, "applying for seat maxSeats", err, client.ErrSeatIndexInvalid)
	_, err = ann.ApplyForSeat(ctx, -2, 0, "")
	refused(t, "applying for seat -2", err, client.ErrSeatIndexInvalid)
	_, err = ann.ApplyForSeat(ctx, proto.NoSeat, 25*time.Hour, "")
	refused(t, "a 25 h timeout", err, client.ErrInvalidParams)
	_, err = owner.InviteToSeat(ctx, "nobody", proto.NoSeat, 0, "")
	refused(t, "inviting an unknown user", err, client.ErrInvalidParams)

	// The socket is still open and nothing changed.
	_, _, err = ann.Members(ctx, "", 10)
	must(t, "a good call after the bad frames", err)
	barrier(t, ann, owner)
	none(t, owner, client.MethodApplicationReceived)
	none(t, owner, client.MethodSeatChanged)

	// A frame over 64 KiB closes the socket with 1009.
	big := `{"jsonrpc":"2.0","id":99,"method":"room.sendMessage","params":{"text":"` + strings.Repeat("y", 70<<10) + `"}}`
	_ = ann.WriteRaw([]byte(big)) // the server may close before reading it all
	select {
	case <-ann.Done():
	case <-ctx.Done():
		t.Fatal("an oversized frame did not close the socket")
	}
	if st := websocket.CloseStatus(ann.Err()); st != websocket.StatusMessageTooBig {
		t.Errorf("oversized frame closed with %v (%v), want 1009", st, ann.Err())
	}
}

func TestMembersPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, nil)
	admin := e.join(room, "adam", proto.RoleAdmin, nil)
	want := map[string]bool{"olive": true, "adam": true}
	var last *client.Client
	for i := 0; i < 27; i++ {
		id := fmt.Sprintf("viewer-%02d", i)
		last = e.join(room, id, proto.RoleAudience, nil)
		want[id] = true
	}
	ctx := ctxT(t)
	for _, c := range []*client.Client{owner, admin, last} {
		seen := map[string]int{}
		cursor, pages := "", 0
		for {
			page, next, err := c.Members(ctx, cursor, 10)
			must(t, "members page", err)
			pages++
			if len(page) > 10 {
				t.Fatalf("a page of limit 10 held %d", len(page))
			}
			for _, u := range page {
				seen[u.UserID]++
				if u.UserID == "adam" && u.Role != proto.RoleAdmin {
					t.Errorf("adam listed with role %q", u.Role)
				}
			}
			if next == "" {
				break
			}
			if pages > 10 {
				t.Fatal("paging does not end")
			}
			cursor = next
		}
		if len(seen) != len(want) {
			t.Errorf("%s paged %d distinct members, want %d", c.Self().UserID, len(seen), len(want))
		}
		for id := range want {
			if seen[id] != 1 {
				t.Errorf("%s saw %s %d times, want once", c.Self().UserID, id, seen[id])
			}
		}
		if pages != 3 {
			t.Errorf("29 members in pages of 10 took %d pages, want 3", pages)
		}
	}
	all, err := last.AllMembers(ctx, 100)
	must(t, "one big page", err)
	if len(all) != 29 {
		t.Errorf("limit 100 listed %d members, want 29", len(all))
	}
}

func TestMessagesReachOthersOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, nil)
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	bob := e.join(room, "bob", proto.RoleAudience, nil)
	ctx := ctxT(t)

	must(t, "text", ann.SendMessage(ctx, "hello"))
	must(t, "command", ann.SendCommand(ctx, "like", `{"n":3}`))
	for _, c := range []*client.Client{owner, bob} {
		m := next[client.Message](t, c, client.MethodRoomMessage)
		if m.From.UserID != "ann" || m.Text != "hello" || m.Cmd != "" {
			t.Errorf("%s got text %+v", c.Self().UserID, m)
		}
		m = next[client.Message](t, c, client.MethodRoomMessage)
		if m.From.UserID != "ann" || m.Cmd != "like" || m.Data != `{"n":3}` || m.Text != "" {
			t.Errorf("%s got command %+v", c.Self().UserID, m)
		}
	}
	barrier(t, bob, ann)
	for _, ev := range ann.Events(client.MethodRoomMessage) {
		if m, _ := client.Decode[client.Message](ev); m.From.UserID == "ann" {
			t.Errorf("the sender got its own message back: %s", ev.Params)
		}
	}
	refused(t, "a 1025-byte text", ann.SendMessage(ctx, strings.Repeat("a", 1025)), client.ErrInvalidParams)
	must(t, "a 1024-byte text", bob.SendMessage(ctx, strings.Repeat("a", 1024)))
	refused(t, "a 65-byte command", ann.SendCommand(ctx, strings.Repeat("c", 65), ""), client.ErrInvalidParams)
	refused(t, "4 KiB + 1 of data", ann.SendCommand(ctx, "c", strings.Repeat("d", 4097)), client.ErrInvalidParams)
	refused(t, "both text and cmd", ann.Call(ctx, "room.sendMessage", rawParams(`{"text":"a","cmd":"b","data":""}`), nil), client.ErrInvalidParams)

	// Flooding is refused with rate_limited, and the socket stays usable.
	limited := false
	for i := 0; i < 30 && !limited; i++ {
		err := owner.SendMessage(ctx, "spam")
		if errors.Is(err, client.ErrRateLimited) {
			limited = true
		} else {
			must(t, "spam", err)
		}
	}
	if !limited {
		t.Error("30 messages in a burst were all accepted; want rate_limited")
	}
	_, _, err := owner.Members(ctx, "", 1)
	must(t, "a call after rate limiting", err)
}

func TestStatsAndMemberEventsGoToTheRightPeople(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, nil)
	admin := e.join(room, "adam", proto.RoleAdmin, nil)
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	ctx := ctxT(t)

	bob := e.join(room, "bob", proto.RoleAudience, nil)
	for _, h := range []*client.Client{owner, admin} {
		for {
			j := next[proto.MemberJoined](t, h, client.MethodMemberJoined)
			if j.User.UserID == "bob" {
				if j.User.Role != proto.RoleAudience {
					t.Errorf("memberJoined role = %q", j.User.Role)
				}
				break
			}
		}
	}
	must(t, "bob leaves", bob.Leave(ctx))
	for _, h := range []*client.Client{owner, admin} {
		l := next[proto.MemberLeft](t, h, client.MethodMemberLeft)
		if l.User.UserID != "bob" || l.Reason != "left" {
			t.Errorf("memberLeft = %+v", l)
		}
	}
	// The audience hears counts only, from room.stats.
	for {
		s := next[client.Stats](t, ann, client.MethodRoomStats)
		if s.MemberCount == 3 {
			break
		}
	}
	if ann.MemberCount() != 3 {
		t.Errorf("ann's MemberCount = %d, want 3", ann.MemberCount())
	}
	barrier(t, owner, ann)
	none(t, ann, client.MethodMemberJoined)
	none(t, ann, client.MethodMemberLeft)

	// At most one room.stats per second, and only on change.
	for i := 0; i < 4; i++ {
		e.join(room, fmt.Sprintf("burst-%d", i), proto.RoleAudience, nil)
	}
	for {
		s := next[client.Stats](t, ann, client.MethodRoomStats)
		if s.MemberCount == 7 {
			break
		}
	}
	evs := ann.Events(client.MethodRoomStats)
	for i := 1; i < len(evs); i++ {
		if gap := evs[i].At.Sub(evs[i-1].At); gap < 900*time.Millisecond {
			t.Errorf("room.stats %d came %v after the previous one; at most one per second", i, gap)
		}
		if string(evs[i].Params) == string(evs[i-1].Params) {
			t.Errorf("room.stats repeated an unchanged count: %s", evs[i].Params)
		}
	}
}

func TestLeaveRoomEndsSeatAndRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, &client.CreateOptions{SeatMode: proto.ModeFree})
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	bob := e.join(room, "bob", proto.RoleAudience, nil)
	cat := e.join(room, "cat", proto.RoleAudience, nil)
	ctx := ctxT(t)

	refused(t, "the owner leaving", owner.Leave(ctx), client.ErrOwnerCannotLeave)
	_, err := ann.TakeSeat(ctx, 4)
	must(t, "ann takes 4", err)
	_, err = bob.ApplyForSeat(ctx, 2, 0, "")
	must(t, "bob applies", err)
	_, err = owner.InviteToSeat(ctx, "cat", proto.NoSeat, 0, "")
	must(t, "invite cat", err)
	next[proto.ApplicationReceived](t, owner, client.MethodApplicationReceived)
	next[proto.InvitationReceived](t, cat, client.MethodInvitationReceived)

	must(t, "ann leaves the room", ann.Leave(ctx))
	if ann.Joined() || ann.SelfSeat() != proto.NoSeat || len(ann.Seats()) != 0 {
		t.Errorf("after room.leave the store still holds the room: joined %v, seat %d", ann.Joined(), ann.SelfSeat())
	}
	ch, l := waitLeft(t, owner, "ann")
	if l.Reason != proto.LeftLeft || l.SeatIndex != 4 || seatUser(ch.Seats, 4) != "" {
		t.Errorf("leaving the room freed the seat with %+v", ch.Left)
	}
	must(t, "bob leaves the room", bob.Leave(ctx))
	ac := next[proto.ApplicationCancelled](t, owner, client.MethodApplicationCancelled)
	if ac.User.UserID != "bob" || ac.Reason != proto.RequestLeft {
		t.Errorf("applicant leaving = %+v", ac)
	}
	must(t, "cat leaves the room", cat.Leave(ctx))
	nr := next[proto.InvitationNoResponse](t, owner, client.MethodInvitationNoResponse)
	if nr.User.UserID != "cat" || nr.Reason != proto.RequestLeft {
		t.Errorf("invitee leaving = %+v", nr)
	}
}

func TestEndRoom(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, nil)
	admin := e.join(room, "adam", proto.RoleAdmin, nil)
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	ctx := ctxT(t)

	refused(t, "an admin ending the room", admin.End(ctx), client.ErrPermission)
	refused(t, "audience ending the room", ann.End(ctx), client.ErrPermission)
	_, err := ann.ApplyForSeat(ctx, proto.NoSeat, 0, "")
	must(t, "ann applies", err)
	must(t, "end", owner.End(ctx))
	for _, c := range []*client.Client{owner, admin, ann} {
		ended := next[proto.RoomEnded](t, c, client.MethodRoomEnded)
		if ended.Reason != proto.EndedByOwner {
			t.Errorf("%s: room.ended = %+v", c.Self().UserID, ended)
		}
		select {
		case <-c.Done():
		case <-ctx.Done():
			t.Fatalf("%s's socket stayed open after room.ended", c.Self().UserID)
		}
		if !errors.Is(c.Err(), client.ErrRoomEnded) {
			t.Errorf("%s: Err = %v", c.Self().UserID, c.Err())
		}
	}
	late := e.dial(room, "zed", proto.RoleAudience)
	_, err = late.Join(ctx, nil)
	refused(t, "joining an ended room", err, client.ErrRoomNotFound)
}

func TestKickOutBans(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, &client.CreateOptions{SeatMode: proto.ModeFree})
	admin := e.join(room, "adam", proto.RoleAdmin, nil)
	admin2 := e.join(room, "abby", proto.RoleAdmin, nil)
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	ctx := ctxT(t)

	refused(t, "kicking out the owner", admin.KickOut(ctx, "olive"), client.ErrPermission)
	refused(t, "an admin kicking out an admin", admin.KickOut(ctx, "abby"), client.ErrPermission)
	refused(t, "audience kicking out", ann.KickOut(ctx, "adam"), client.ErrPermission)
	_, err := ann.TakeSeat(ctx, 1)
	must(t, "ann takes 1", err)

	must(t, "kick ann out", admin.KickOut(ctx, "ann"))
	k := next[proto.KickedOut](t, ann, client.MethodKickedOut)
	if k.By.UserID != "adam" {
		t.Errorf("room.kickedOut = %+v", k)
	}
	select {
	case <-ann.Done():
	case <-ctx.Done():
		t.Fatal("the kicked-out socket stayed open")
	}
	if !errors.Is(ann.Err(), client.ErrKickedOut) {
		t.Errorf("kicked-out client Err = %v", ann.Err())
	}
	ch, l := waitLeft(t, owner, "ann")
	if l.Reason != proto.LeftKicked || l.SeatIndex != 1 {
		t.Errorf("kick-out freed the seat with %+v", ch.Left)
	}
	for _, h := range []*client.Client{owner, admin2} {
		for {
			l := next[proto.MemberLeft](t, h, client.MethodMemberLeft)
			if l.User.UserID == "ann" {
				if l.Reason != "kicked" {
					t.Errorf("memberLeft reason %q, want kicked", l.Reason)
				}
				break
			}
		}
	}
	again := e.dial(room, "ann", proto.RoleAudience)
	_, err = again.Join(ctx, nil)
	refused(t, "rejoining after a kick-out", err, client.ErrBanned)
	must(t, "the owner may kick out an admin", owner.KickOut(ctx, "abby"))
	next[proto.KickedOut](t, admin2, client.MethodKickedOut)
}

func TestSecondSocketReplacesTheFirst(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, &client.CreateOptions{SeatMode: proto.ModeFree})
	first := e.join(room, "ann", proto.RoleAudience, nil)
	ctx := ctxT(t)
	_, err := first.TakeSeat(ctx, 3)
	must(t, "take 3", err)

	second := e.dial(room, "ann", proto.RoleAudience)
	snap, err := second.Join(ctx, nil)
	must(t, "second socket joins", err)
	next[struct{}](t, first, client.MethodSessionReplaced)
	select {
	case <-first.Done():
	case <-ctx.Done():
		t.Fatal("the replaced socket stayed open")
	}
	if !errors.Is(first.Err(), client.ErrSessionReplaced) {
		t.Errorf("replaced client Err = %v", first.Err())
	}
	if seatUser(snap.Seats, 3) != "ann" {
		t.Errorf("the new socket's snapshot lost the seat: %+v", snap.Seats)
	}
	must(t, "the new socket works", second.LeaveSeat(ctx))
	if _, l := waitLeft(t, owner, "ann"); l.Reason != proto.LeftLeft || l.SeatIndex != 3 {
		t.Errorf("the new socket's seat.leave = %+v", l)
	}
	barrier(t, owner, second)
	none(t, owner, client.MethodMemberLeft)
}

func TestRoomFull(t *testing.T) {
	t.Parallel()
	e := newEnv(t, signaltest.WithMaxMembers(3))
	room := e.newRoom()
	e.join(room, "olive", proto.RoleOwner, nil)
	e.join(room, "ann", proto.RoleAudience, nil)
	bob := e.join(room, "bob", proto.RoleAudience, nil)
	cat := e.dial(room, "cat", proto.RoleAudience)
	_, err := cat.Join(ctxT(t), nil)
	refused(t, "the fourth member of a 3-member room", err, client.ErrRoomFull)
	must(t, "bob leaves", bob.Leave(ctxT(t)))
	_, err = cat.Join(ctxT(t), nil)
	must(t, "cat joins once there is room", err)
}

func TestServerShutdownEndsRooms(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	room := e.newRoom()
	owner := e.join(room, "olive", proto.RoleOwner, nil)
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	must(t, "shutdown", e.st.Server.Shutdown(ctxT(t)))
	for _, c := range []*client.Client{owner, ann} {
		ended := next[proto.RoomEnded](t, c, client.MethodRoomEnded)
		if ended.Reason != proto.ServerShutdown {
			t.Errorf("%s: room.ended = %+v", c.Self().UserID, ended)
		}
		select {
		case <-c.Done():
		case <-ctxT(t).Done():
			t.Fatalf("%s's socket outlived the shutdown", c.Self().UserID)
		}
		if !errors.Is(c.Err(), client.ErrRoomEnded) {
			t.Errorf("%s: Err = %v", c.Self().UserID, c.Err())
		}
	}
}
