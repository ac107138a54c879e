package signal_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/internal/metrictest"
	"github.com/seatsfu/seatsfu/signal"
	"github.com/seatsfu/seatsfu/signal/api"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
	"github.com/seatsfu/seatsfu/signal/token"
)

// The server API end to end (PROTOCOL.md §11): each endpoint's success,
// its 404 and 409, and what the room's connected clients see. 401 and 403
// on every endpoint, and the bodies' shapes against the OpenAPI document,
// are signal/api's tests; TestAPIRefusesOtherTokens repeats the 401/403
// against this server.

// apiDo calls the server API with a service token and returns the status
// and body.
func apiDo(t *testing.T, env *signaltest.Env, method, path, body string) (int, []byte) {
	t.Helper()
	raw, err := token.MintService(env.Secret, "backend", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return apiDoAs(t, env, raw, method, path, body)
}

func apiDoAs(t *testing.T, env *signaltest.Env, bearer, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), method, env.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// apiWant asserts a status (and, for errors, the reason).
func apiWant(t *testing.T, env *signaltest.Env, method, path, body string, status int, reason string) []byte {
	t.Helper()
	got, raw := apiDo(t, env, method, path, body)
	if got != status {
		t.Fatalf("%s %s %s: %d %s, want %d", method, path, body, got, raw, status)
	}
	if reason != "" {
		var e proto.APIError
		if json.Unmarshal(raw, &e) != nil || e.Error.Reason != reason {
			t.Fatalf("%s %s: %s, want reason %s", method, path, raw, reason)
		}
	}
	return raw
}

func isNull(raw json.RawMessage, field string) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil && string(m[field]) == "null"
}

func TestAPIListAndGetRoomsWithMetadata(t *testing.T) {
	env := signaltest.Start(t)
	create := map[string]any{"create": map[string]any{"title": "Late show", "cover": "https://img.example/c.png", "metadata": `{"tag":"music"}`}}
	_, snap := join(t, env, "alpha", "olive", proto.RoleOwner, create)
	if snap.Room.Title != "Late show" || snap.Room.Metadata != `{"tag":"music"}` || snap.Room.CreatedAt == 0 {
		t.Fatalf("snapshot room %+v lacks the metadata", snap.Room)
	}
	join(t, env, "beta", "bill", proto.RoleOwner, map[string]any{"create": map[string]any{}})
	join(t, env, "alpha", "ann", proto.RoleAudience, nil)

	var page proto.APIRoomList
	json.Unmarshal(apiWant(t, env, "GET", "/v1/api/rooms?limit=1", "", 200, ""), &page)
	if len(page.Rooms) != 1 || page.Rooms[0].RoomID != "alpha" || page.NextCursor != "alpha" {
		t.Fatalf("first page %+v", page)
	}
	r := page.Rooms[0]
	if r.Title != "Late show" || r.Cover != "https://img.example/c.png" || r.Owner.UserID != "olive" ||
		r.MemberCount != 2 || len(r.Seats) != 10 || r.Seats[0].User.UserID != "olive" || r.Cohost == nil || r.CreatedAt != snap.Room.CreatedAt {
		t.Fatalf("room info %+v", r)
	}
	json.Unmarshal(apiWant(t, env, "GET", "/v1/api/rooms?limit=1&cursor=alpha", "", 200, ""), &page)
	if len(page.Rooms) != 1 || page.Rooms[0].RoomID != "beta" || page.NextCursor != "" {
		t.Fatalf("second page %+v", page)
	}
	var one proto.APIRoom
	json.Unmarshal(apiWant(t, env, "GET", "/v1/api/rooms/beta", "", 200, ""), &one)
	if one.RoomID != "beta" || one.Owner.UserID != "bill" {
		t.Fatalf("GET beta: %+v", one)
	}
	apiWant(t, env, "GET", "/v1/api/rooms/nowhere", "", 404, "room_not_found")
	// A title over 128 characters is refused at creation.
	c := dial(t, env, "gamma", "gus", proto.RoleOwner)
	wantReason(t, c, "room.join", map[string]any{"create": map[string]any{"title": strings.Repeat("x", 129)}}, "invalid_params")
}

func TestAPIAndRoomUpdate(t *testing.T) {
	env := signaltest.Start(t)
	owner, _ := join(t, env, "r", "olive", proto.RoleOwner, nil)
	admin, _ := join(t, env, "r", "adam", proto.RoleAdmin, nil)
	ann, _ := join(t, env, "r", "ann", proto.RoleAudience, nil)

	apiWant(t, env, "PATCH", "/v1/api/rooms/r", `{"title":"Now live"}`, 200, "")
	for _, c := range []*signaltest.Conn{owner, admin, ann} {
		n := wait(t, c, "room.updated", nil)
		var u proto.RoomUpdated
		json.Unmarshal(n.Params, &u)
		if u.Title != "Now live" {
			t.Fatalf("room.updated %s", n.Params)
		}
	}
	call(t, admin, "room.update", map[string]any{"metadata": "m2"}, nil)
	wait(t, ann, "room.updated", func(p json.RawMessage) bool { return strings.Contains(string(p), `"metadata":"m2"`) })
	wantReason(t, ann, "room.update", map[string]any{"title": "mine"}, "permission_denied")
	wantReason(t, admin, "room.update", map[string]any{}, "invalid_params")
	apiWant(t, env, "PATCH", "/v1/api/rooms/r", `{"cover":"not a url"}`, 400, "invalid_params")
	apiWant(t, env, "PATCH", "/v1/api/rooms/nowhere", `{"title":"x"}`, 404, "room_not_found")
	var info proto.APIRoom
	json.Unmarshal(apiWant(t, env, "GET", "/v1/api/rooms/r", "", 200, ""), &info)
	if info.Title != "Now live" || info.Metadata != "m2" {
		t.Fatalf("after the updates: %+v", info)
	}
}

func TestAPIEndRoom(t *testing.T) {
	env := signaltest.Start(t)
	owner, _ := join(t, env, "r", "olive", proto.RoleOwner, nil)
	ann, _ := join(t, env, "r", "ann", proto.RoleAudience, nil)
	apiWant(t, env, "POST", "/v1/api/rooms/r/end", "", 200, "")
	for _, c := range []*signaltest.Conn{owner, ann} {
		wait(t, c, "room.ended", func(p json.RawMessage) bool { return string(p) == `{"reason":"ended_by_service"}` })
		if _, err := c.Closed(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	apiWant(t, env, "POST", "/v1/api/rooms/r/end", "", 404, "room_not_found")
}

func TestAPIMembers(t *testing.T) {
	env := signaltest.Start(t)
	join(t, env, "r", "olive", proto.RoleOwner, nil)
	join(t, env, "r", "ann", proto.RoleAudience, nil)
	join(t, env, "r", "bob", proto.RoleAudience, nil)
	var page proto.APIMemberList
	json.Unmarshal(apiWant(t, env, "GET", "/v1/api/rooms/r/members?limit=2", "", 200, ""), &page)
	if len(page.Members) != 2 || page.Members[0].UserID != "olive" || page.NextCursor == "" {
		t.Fatalf("first page %+v", page)
	}
	json.Unmarshal(apiWant(t, env, "GET", "/v1/api/rooms/r/members?limit=2&cursor="+page.NextCursor, "", 200, ""), &page)
	if len(page.Members) != 1 || page.Members[0].UserID != "bob" || page.NextCursor != "" {
		t.Fatalf("second page %+v", page)
	}
	apiWant(t, env, "GET", "/v1/api/rooms/r/members?cursor=bogus", "", 400, "invalid_params")
	apiWant(t, env, "GET", "/v1/api/rooms/nowhere/members", "", 404, "room_not_found")
}

func TestAPIKickOutAndUnban(t *testing.T) {
	env := signaltest.Start(t)
	join(t, env, "r", "olive", proto.RoleOwner, nil)
	ann, _ := join(t, env, "r", "ann", proto.RoleAudience, nil)
	apiWant(t, env, "POST", "/v1/api/rooms/r/members/ann/kickOut", "", 200, "")
	n := wait(t, ann, "room.kickedOut", nil)
	if !isNull(n.Params, "by") {
		t.Fatalf("room.kickedOut %s, want by: null", n.Params)
	}
	again := dial(t, env, "r", "ann", proto.RoleAudience)
	wantReason(t, again, "room.join", nil, "banned")
	apiWant(t, env, "DELETE", "/v1/api/rooms/r/bans/ann", "", 200, "")
	call(t, again, "room.join", nil, nil) // unbanned: rejoin works
	apiWant(t, env, "DELETE", "/v1/api/rooms/r/bans/ann", "", 404, "not_banned")

	// ban: false removes without barring.
	apiWant(t, env, "POST", "/v1/api/rooms/r/members/ann/kickOut", `{"ban":false}`, 200, "")
	join(t, env, "r", "ann", proto.RoleAudience, nil)

	apiWant(t, env, "POST", "/v1/api/rooms/r/members/olive/kickOut", "", 409, "permission_denied")
	apiWant(t, env, "POST", "/v1/api/rooms/r/members/nobody/kickOut", "", 404, "not_joined")
	apiWant(t, env, "POST", "/v1/api/rooms/nowhere/members/ann/kickOut", "", 404, "room_not_found")
	apiWant(t, env, "DELETE", "/v1/api/rooms/nowhere/bans/ann", "", 404, "room_not_found")
}

func TestAPIRoleChangeLetsAMemberAcceptApplications(t *testing.T) {
	env := signaltest.Start(t)
	owner, _ := join(t, env, "r", "olive", proto.RoleOwner, nil)
	ann, _ := join(t, env, "r", "ann", proto.RoleAudience, nil)
	bob, _ := join(t, env, "r", "bob", proto.RoleAudience, nil)
	call(t, bob, "seat.apply", map[string]any{"seatIndex": -1, "timeout": 0}, nil)
	wantReason(t, ann, "seat.acceptApplication", map[string]any{"userId": "bob"}, "permission_denied")

	admins := metrictest.Must(t, env.Registry, "seatsfu_participants", "role", "admin")
	apiWant(t, env, "POST", "/v1/api/rooms/r/members/ann/role", `{"role":"admin"}`, 200, "")
	if got := metrictest.Must(t, env.Registry, "seatsfu_participants", "role", "admin"); got != admins+1 {
		t.Errorf("participants{role=admin} = %v after the promotion, want %v", got, admins+1)
	}
	for _, c := range []*signaltest.Conn{owner, ann, bob} {
		wait(t, c, "room.roleChanged", func(p json.RawMessage) bool {
			return strings.Contains(string(p), `"userId":"ann"`) && strings.Contains(string(p), `"role":"admin"`)
		})
	}
	// A host now: it hears of new applications and may answer them.
	cara, _ := join(t, env, "r", "cara", proto.RoleAudience, nil)
	call(t, cara, "seat.apply", map[string]any{"seatIndex": -1, "timeout": 0}, nil)
	wait(t, ann, "seat.applicationReceived", func(p json.RawMessage) bool { return strings.Contains(string(p), `"cara"`) })
	var res struct{ SeatIndex int }
	call(t, ann, "seat.acceptApplication", map[string]any{"userId": "bob"}, &res)
	wait(t, bob, "seat.applicationResponded", nil)

	apiWant(t, env, "POST", "/v1/api/rooms/r/members/ann/role", `{"role":"owner"}`, 400, "invalid_params")
	apiWant(t, env, "POST", "/v1/api/rooms/r/members/olive/role", `{"role":"audience"}`, 409, "permission_denied")
	apiWant(t, env, "POST", "/v1/api/rooms/r/members/nobody/role", `{"role":"admin"}`, 404, "not_joined")
	apiWant(t, env, "POST", "/v1/api/rooms/nowhere/members/ann/role", `{"role":"admin"}`, 404, "room_not_found")
	// Demoted again: applications no longer reach it.
	apiWant(t, env, "POST", "/v1/api/rooms/r/members/ann/role", `{"role":"audience"}`, 200, "")
	wantReason(t, ann, "seat.acceptApplication", map[string]any{"userId": "cara"}, "permission_denied")
	// Her socket leaves under the role it has now: the gauges come back even.
	call(t, ann, "room.leave", nil, nil)
	if got := metrictest.Must(t, env.Registry, "seatsfu_participants", "role", "admin"); got != admins {
		t.Errorf("participants{role=admin} = %v after she left, want %v", got, admins)
	}
}

func TestAPIChatMute(t *testing.T) {
	env := signaltest.Start(t)
	owner, _ := join(t, env, "r", "olive", proto.RoleOwner, nil)
	ann, _ := join(t, env, "r", "ann", proto.RoleAudience, nil)
	apiWant(t, env, "POST", "/v1/api/rooms/r/members/ann/chatMute", `{"muted":true}`, 200, "")
	err := ann.Call(testCtx(t), "room.sendMessage", map[string]any{"text": "hi"}, nil)
	if !signaltest.IsReason(err, "chat_muted") || err.(*signaltest.RPCError).Code != 100009 {
		t.Fatalf("muted sendMessage: %v, want chat_muted 100009", err)
	}
	apiWant(t, env, "POST", "/v1/api/rooms/r/members/ann/chatMute", `{"muted":false}`, 200, "")
	call(t, ann, "room.sendMessage", map[string]any{"text": "back"}, nil)
	wait(t, owner, "room.message", func(p json.RawMessage) bool { return strings.Contains(string(p), `"back"`) })
	if owner.Count("room.message") != 1 {
		t.Fatal("the muted message was delivered")
	}
	apiWant(t, env, "POST", "/v1/api/rooms/r/members/ann/chatMute", `{}`, 400, "invalid_params")
	apiWant(t, env, "POST", "/v1/api/rooms/nowhere/members/ann/chatMute", `{"muted":true}`, 404, "room_not_found")
}

func TestAPISeatKickAndLock(t *testing.T) {
	env := signaltest.Start(t)
	owner, _ := join(t, env, "r", "olive", proto.RoleOwner, map[string]any{"create": map[string]any{"seatMode": "free"}})
	ann, _ := join(t, env, "r", "ann", proto.RoleAudience, nil)
	call(t, ann, "seat.take", map[string]any{"seatIndex": 2}, nil)
	apiWant(t, env, "POST", "/v1/api/rooms/r/seats/2/kick", "", 200, "")
	n := wait(t, ann, "seat.kicked", nil)
	if !isNull(n.Params, "by") || !strings.Contains(string(n.Params), `"seatIndex":2`) {
		t.Fatalf("seat.kicked %s, want seat 2 by null", n.Params)
	}
	wait(t, owner, "seat.changed", func(p json.RawMessage) bool { return strings.Contains(string(p), `"reason":"kicked"`) })
	apiWant(t, env, "POST", "/v1/api/rooms/r/seats/2/kick", "", 409, "not_seated")
	apiWant(t, env, "POST", "/v1/api/rooms/r/seats/0/kick", "", 400, "seat_index_invalid")

	call(t, ann, "seat.take", map[string]any{"seatIndex": 3}, nil)
	apiWant(t, env, "POST", "/v1/api/rooms/r/seats/3/lock", `{"lockSeat":true}`, 200, "")
	wait(t, ann, "seat.kicked", func(p json.RawMessage) bool { return strings.Contains(string(p), `"seatIndex":3`) })
	wantReason(t, ann, "seat.take", map[string]any{"seatIndex": 3}, "seat_locked")
	apiWant(t, env, "POST", "/v1/api/rooms/r/seats/99/lock", `{"lockSeat":true}`, 400, "seat_index_invalid")
	apiWant(t, env, "POST", "/v1/api/rooms/nowhere/seats/1/lock", `{}`, 404, "room_not_found")
	apiWant(t, env, "POST", "/v1/api/rooms/nowhere/seats/1/kick", "", 404, "room_not_found")
}

func TestAPISystemMessage(t *testing.T) {
	env := signaltest.Start(t)
	owner, _ := join(t, env, "r", "olive", proto.RoleOwner, nil)
	ann, _ := join(t, env, "r", "ann", proto.RoleAudience, nil)
	apiWant(t, env, "POST", "/v1/api/rooms/r/messages", `{"text":"Welcome!"}`, 200, "")
	apiWant(t, env, "POST", "/v1/api/rooms/r/messages", `{"cmd":"gift"}`, 200, "")
	for _, c := range []*signaltest.Conn{owner, ann} {
		n := wait(t, c, "room.message", nil)
		if !isNull(n.Params, "from") || !strings.Contains(string(n.Params), `"text":"Welcome!"`) {
			t.Fatalf("room.message %s, want from: null", n.Params)
		}
		wait(t, c, "room.message", func(p json.RawMessage) bool { return string(p) == `{"from":null,"cmd":"gift","data":""}` })
	}
	apiWant(t, env, "POST", "/v1/api/rooms/r/messages", `{}`, 400, "invalid_params")
	apiWant(t, env, "POST", "/v1/api/rooms/r/messages", `{"text":"`+strings.Repeat("x", 1025)+`"}`, 400, "invalid_params")
	apiWant(t, env, "POST", "/v1/api/rooms/nowhere/messages", `{"text":"x"}`, 404, "room_not_found")
}

// scoreBattles is a stand-in for the co-host controller.
type scoreBattles struct{ scores map[string]int64 }

func (b *scoreBattles) AddScore(battle, room string, delta int64) error {
	if battle != "b1" {
		return api.ErrBattleNotFound
	}
	b.scores[room] += delta
	return nil
}

func TestAPIBattleScore(t *testing.T) {
	b := &scoreBattles{scores: map[string]int64{}}
	env := signaltest.Start(t, signaltest.WithSignalConfig(func(c *signal.Config) { c.Battles = b }))
	apiWant(t, env, "POST", "/v1/api/battles/b1/score", `{"roomId":"r","delta":7}`, 200, "")
	if b.scores["r"] != 7 {
		t.Fatalf("scores %v", b.scores)
	}
	apiWant(t, env, "POST", "/v1/api/battles/zz/score", `{"roomId":"r","delta":7}`, 404, "battle_not_found")
	// Without a battles controller there is no battle to score.
	plain := signaltest.Start(t)
	apiWant(t, plain, "POST", "/v1/api/battles/b1/score", `{"roomId":"r","delta":7}`, 404, "battle_not_found")
}

// A service token opens nothing but the API; the API takes nothing else.
func TestAPIRefusesOtherTokens(t *testing.T) {
	env := signaltest.Start(t)
	join(t, env, "r", "olive", proto.RoleOwner, nil)
	service, _ := token.MintService(env.Secret, "backend", time.Hour)
	if _, err := env.Dial(testCtx(t), service); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("a service token on /v1/rtc: %v, want 401", err)
	}
	for _, path := range []string{"/whip/r", "/whep/r"} {
		req, _ := http.NewRequestWithContext(testCtx(t), "POST", env.URL+path, strings.NewReader("v=0\r\n"))
		req.Header.Set("Authorization", "Bearer "+service)
		req.Header.Set("Content-Type", "application/sdp")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("a service token on %s: %d, want 401", path, resp.StatusCode)
		}
	}
	user := env.Token("r", "olive", proto.RoleOwner)
	if got, raw := apiDoAs(t, env, user, "GET", "/v1/api/rooms", ""); got != 403 {
		t.Fatalf("a user token on the API: %d %s", got, raw)
	}
	for _, bearer := range []string{"", "junk"} {
		if got, _ := apiDoAs(t, env, bearer, "POST", "/v1/api/rooms/r/end", ""); got != 401 {
			t.Fatalf("token %q on the API: %d, want 401", bearer, got)
		}
	}
	if got, _ := apiDoAs(t, env, "", "GET", "/v1/api/openapi.json", ""); got != 200 {
		t.Fatalf("openapi.json: %d", got)
	}
}
