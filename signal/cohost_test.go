package signal_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/signal"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// liveRoom is a room opened by its owner, with one audience member.
type liveRoom struct {
	id            string
	owner, viewer *signaltest.Conn
}

func openLive(t *testing.T, env *signaltest.Env, id string) liveRoom {
	t.Helper()
	o, _ := join(t, env, id, "own-"+id, proto.RoleOwner, nil)
	v, _ := join(t, env, id, "fan-"+id, proto.RoleAudience, nil)
	return liveRoom{id: id, owner: o, viewer: v}
}

func (r liveRoom) both() []*signaltest.Conn { return []*signaltest.Conn{r.owner, r.viewer} }

type cohostSnap struct {
	Cohost []proto.CohostRoom `json:"cohost"`
	Battle *proto.BattleState `json:"battle"`
}

func joinCohostSnap(t *testing.T, env *signaltest.Env, room, user string) cohostSnap {
	t.Helper()
	c := dial(t, env, room, user, proto.RoleAudience)
	var snap cohostSnap
	call(t, c, "room.join", nil, &snap)
	return snap
}

func roomIDs(rooms []proto.CohostRoom) []string {
	out := []string{}
	for _, r := range rooms {
		out = append(out, r.RoomID)
	}
	return out
}

// changedTo matches a cohost.changed whose rooms are want, in order.
func changedTo(want ...string) func(json.RawMessage) bool {
	if want == nil {
		want = []string{}
	}
	return func(p json.RawMessage) bool {
		var v proto.CohostChanged
		return json.Unmarshal(p, &v) == nil && reflect.DeepEqual(roomIDs(v.Rooms), want)
	}
}

func requestIs(id string) func(json.RawMessage) bool {
	return func(p json.RawMessage) bool {
		var v struct {
			RequestID string `json:"requestId"`
		}
		return json.Unmarshal(p, &v) == nil && v.RequestID == id
	}
}

func cohostRequest(t *testing.T, from liveRoom, to string, timeout int) string {
	t.Helper()
	var res proto.CohostRequestResult
	call(t, from.owner, "cohost.request", map[string]any{"roomId": to, "timeout": timeout, "extraInfo": "pk?"}, &res)
	return res.RequestID
}

// connect makes rooms one connection through requests from the first.
func connect(t *testing.T, rooms ...liveRoom) {
	t.Helper()
	ids := []string{}
	for _, r := range rooms {
		ids = append(ids, r.id)
	}
	for i, r := range rooms[1:] {
		id := cohostRequest(t, rooms[0], r.id, 10)
		wait(t, r.owner, "cohost.requestReceived", func(p json.RawMessage) bool {
			var v proto.CohostRequestReceived
			return json.Unmarshal(p, &v) == nil && v.Request.RequestID == id
		})
		call(t, r.owner, "cohost.accept", map[string]any{"requestId": id}, nil)
		for _, o := range rooms[:i+2] {
			for _, c := range o.both() {
				wait(t, c, "cohost.changed", changedTo(ids[:i+2]...))
			}
		}
	}
}

func TestCohostRequestAcceptAndLateJoiner(t *testing.T) {
	env := signaltest.Start(t)
	a, b := openLive(t, env, "A"), openLive(t, env, "B")
	id := cohostRequest(t, a, "B", 10)
	n := wait(t, b.owner, "cohost.requestReceived", nil)
	var got proto.CohostRequestReceived
	if err := json.Unmarshal(n.Params, &got); err != nil {
		t.Fatal(err)
	}
	if got.Request.RequestID != id || got.Request.From.RoomID != "A" || got.Request.From.User.UserID != "own-A" ||
		got.Request.From.User.Role != "owner" || got.Request.ExtraInfo != "pk?" ||
		abs(time.UnixMilli(got.Request.ExpiresAt).Sub(time.Now().Add(10*time.Second))) > 2*time.Second {
		t.Fatalf("requestReceived %+v", got)
	}
	call(t, b.owner, "cohost.accept", map[string]any{"requestId": id}, nil)
	wait(t, a.owner, "cohost.requestResponded", func(p json.RawMessage) bool {
		var v proto.CohostRequestResponded
		return json.Unmarshal(p, &v) == nil && v.RequestID == id && v.Accepted
	})
	for _, c := range append(a.both(), b.both()...) {
		n := wait(t, c, "cohost.changed", changedTo("A", "B"))
		var v proto.CohostChanged
		_ = json.Unmarshal(n.Params, &v)
		if v.Rooms[1].Owner.UserID != "own-B" || v.Rooms[0].Owner.Name != "own-A" {
			t.Fatalf("cohost.changed owners %+v", v.Rooms)
		}
	}
	// Only the owners hear of requests.
	if a.viewer.Count("cohost.requestResponded")+b.viewer.Count("cohost.requestReceived") != 0 {
		t.Fatal("a request notification reached the audience")
	}
	if got := env.Server.CohostOf("B"); !reflect.DeepEqual(got, []string{"A", "B"}) {
		t.Fatalf("CohostOf(B) = %v", got)
	}
	snap := joinCohostSnap(t, env, "B", "late")
	if !reflect.DeepEqual(roomIDs(snap.Cohost), []string{"A", "B"}) || snap.Battle != nil {
		t.Fatalf("late joiner's snapshot %+v", snap)
	}
	// A room in no connection shows [] and null.
	c := openLive(t, env, "C")
	_ = c
	snap = joinCohostSnap(t, env, "C", "late")
	if snap.Cohost == nil || len(snap.Cohost) != 0 || snap.Battle != nil {
		t.Fatalf("snapshot of a free room %+v", snap)
	}
	metricsShow(t, env, "seatsfu_cohost_connections 1", `seatsfu_cohost_requests_total{outcome="accepted"} 1`)
}

func TestCohostErrors(t *testing.T) {
	env := signaltest.Start(t, signaltest.WithMaxCohosts(2))
	a, b, c := openLive(t, env, "A"), openLive(t, env, "B"), openLive(t, env, "C")
	admin, _ := join(t, env, "A", "adm", proto.RoleAdmin, nil)

	for _, m := range []struct {
		method string
		params any
	}{
		{"cohost.request", map[string]any{"roomId": "B"}},
		{"cohost.cancel", map[string]any{"requestId": "x"}},
		{"cohost.accept", map[string]any{"requestId": "x"}},
		{"cohost.reject", map[string]any{"requestId": "x"}},
		{"cohost.leave", nil},
		{"battle.start", map[string]any{"duration": 60}},
		{"battle.stop", nil},
	} {
		wantReason(t, a.viewer, m.method, m.params, "permission_denied")
		wantReason(t, admin, m.method, m.params, "permission_denied")
	}
	wantReason(t, a.owner, "cohost.request", map[string]any{"roomId": "nowhere"}, "room_not_found")
	wantReason(t, a.owner, "cohost.request", map[string]any{"roomId": "A"}, "cohost_self")
	wantReason(t, a.owner, "cohost.request", map[string]any{"roomId": "B", "timeout": 0}, "invalid_params")
	wantReason(t, a.owner, "cohost.request", map[string]any{"roomId": "B", "timeout": 61}, "invalid_params")
	wantReason(t, a.owner, "cohost.request", map[string]any{"roomId": "B", "extraInfo": string(make([]byte, 1025))}, "invalid_params")
	wantReason(t, a.owner, "cohost.request", map[string]any{"roomId": "B", "bogus": 1}, "invalid_params")
	wantReason(t, a.owner, "cohost.leave", nil, "not_connected")
	wantReason(t, a.owner, "battle.stop", nil, "not_connected")
	wantReason(t, a.owner, "battle.start", map[string]any{"duration": 60}, "not_connected")
	wantReason(t, a.owner, "cohost.accept", map[string]any{"requestId": "nope"}, "request_not_found")

	// A request is answered only by its target and cancelled only by its
	// sender.
	id := cohostRequest(t, a, "B", 10)
	wantReason(t, a.owner, "cohost.request", map[string]any{"roomId": "B"}, "request_conflict")
	wantReason(t, b.owner, "cohost.request", map[string]any{"roomId": "A"}, "request_conflict")
	wantReason(t, a.owner, "cohost.accept", map[string]any{"requestId": id}, "request_not_found")
	wantReason(t, c.owner, "cohost.reject", map[string]any{"requestId": id}, "request_not_found")
	wantReason(t, b.owner, "cohost.cancel", map[string]any{"requestId": id}, "request_not_found")
	call(t, b.owner, "cohost.reject", map[string]any{"requestId": id}, nil)
	wait(t, a.owner, "cohost.requestResponded", func(p json.RawMessage) bool {
		var v proto.CohostRequestResponded
		return json.Unmarshal(p, &v) == nil && v.RequestID == id && !v.Accepted
	})
	wantReason(t, b.owner, "cohost.accept", map[string]any{"requestId": id}, "request_not_found")
	id = cohostRequest(t, a, "B", 10)
	call(t, a.owner, "cohost.cancel", map[string]any{"requestId": id}, nil)
	wait(t, b.owner, "cohost.requestCancelled", func(p json.RawMessage) bool {
		var v proto.CohostRequestCancelled
		return json.Unmarshal(p, &v) == nil && v.RequestID == id && v.Reason == "cancelled"
	})

	connect(t, a, b) // full at --max-cohosts 2
	wantReason(t, a.owner, "cohost.request", map[string]any{"roomId": "B"}, "already_connected")
	wantReason(t, c.owner, "cohost.request", map[string]any{"roomId": "A"}, "cohost_busy")
	wantReason(t, a.owner, "cohost.request", map[string]any{"roomId": "C"}, "cohost_busy")
	wantReason(t, a.owner, "battle.stop", nil, "battle_not_running")
	var started proto.BattleStartResult
	call(t, a.owner, "battle.start", map[string]any{"duration": 60}, &started)
	wantReason(t, b.owner, "battle.start", map[string]any{"duration": 60}, "battle_running")
	wantReason(t, b.owner, "battle.start", map[string]any{"duration": 9}, "invalid_params")
	for _, bad := range []struct {
		battle, room string
		want         error
	}{{"nope", "A", signal.ErrBattleNotFound}, {started.BattleID, "C", signal.ErrRoomNotInBattle}} {
		if err := env.Server.AddBattleScore(bad.battle, bad.room, 1); !errors.Is(err, bad.want) {
			t.Errorf("AddBattleScore(%s, %s) = %v, want %v", bad.battle, bad.room, err, bad.want)
		}
	}
	// Codes, not just reasons.
	err := c.owner.Call(testCtx(t), "cohost.request", map[string]any{"roomId": "A"}, nil)
	var re *signaltest.RPCError
	if !errors.As(err, &re) || re.Code != 100501 {
		t.Fatalf("cohost_busy code: %v", err)
	}
}

// An owner's snapshot lists the pending co-host requests to its room and
// those it sent (so a reconnecting owner can still answer them); nobody
// else's does.
func TestCohostSnapshotListsOwnersPendingRequests(t *testing.T) {
	env := signaltest.Start(t)
	a, b := openLive(t, env, "A"), openLive(t, env, "B")
	id := cohostRequest(t, a, "B", 30)
	type pending struct {
		CohostRequests []proto.CohostRequest `json:"cohostRequests"`
		CohostSent     []proto.CohostSent    `json:"cohostSent"`
	}
	rejoin := func(room, user string, role proto.Role) pending {
		c := dial(t, env, room, user, role)
		var p pending
		call(t, c, "room.join", nil, &p)
		return p
	}
	if p := rejoin("B", "own-B", proto.RoleOwner); len(p.CohostRequests) != 1 || p.CohostRequests[0].RequestID != id ||
		p.CohostRequests[0].From.RoomID != "A" || len(p.CohostSent) != 0 {
		t.Fatalf("target owner's snapshot %+v", p)
	}
	if p := rejoin("A", "own-A", proto.RoleOwner); len(p.CohostSent) != 1 || p.CohostSent[0].RequestID != id ||
		p.CohostSent[0].RoomID != "B" || len(p.CohostRequests) != 0 {
		t.Fatalf("requesting owner's snapshot %+v", p)
	}
	if p := rejoin("B", "fan-B", proto.RoleAudience); p.CohostRequests != nil || p.CohostSent != nil {
		t.Fatalf("audience snapshot lists requests: %+v", p)
	}
	_ = b
	// Cancelled: gone from both owners' snapshots.
	owner := dial(t, env, "A", "own-A", proto.RoleOwner)
	call(t, owner, "room.join", nil, nil)
	call(t, owner, "cohost.cancel", map[string]any{"requestId": id}, nil)
	if p := rejoin("B", "own-B", proto.RoleOwner); len(p.CohostRequests) != 0 {
		t.Fatalf("cancelled request still listed: %+v", p)
	}
	if p := rejoin("A", "own-A", proto.RoleOwner); len(p.CohostSent) != 0 {
		t.Fatalf("cancelled request still sent: %+v", p)
	}
}

// Two owners requesting each other at the same moment end with one
// request, so one connection.
func TestCohostSimultaneousRequestsMakeOneConnection(t *testing.T) {
	env := signaltest.Start(t)
	a, b := openLive(t, env, "A"), openLive(t, env, "B")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	ids := make([]string, 2)
	for i, pair := range [][2]liveRoom{{a, b}, {b, a}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var res proto.CohostRequestResult
			errs[i] = pair[0].owner.Call(testCtx(t), "cohost.request", map[string]any{"roomId": pair[1].id}, &res)
			ids[i] = res.RequestID
		}()
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !signaltest.IsReason(err, "request_conflict"):
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d requests pending, want 1: %v", ok, errs)
	}
	target, id := b, ids[0]
	if errs[0] != nil {
		target, id = a, ids[1]
	}
	call(t, target.owner, "cohost.accept", map[string]any{"requestId": id}, nil)
	for _, c := range append(a.both(), b.both()...) {
		wait(t, c, "cohost.changed", nil)
	}
	metricsShow(t, env, "seatsfu_cohost_connections 1")
}

func TestCohostThirdRoomLeaveAndRoomEnd(t *testing.T) {
	env := signaltest.Start(t, signaltest.WithMaxCohosts(3))
	a, b, c, d := openLive(t, env, "A"), openLive(t, env, "B"), openLive(t, env, "C"), openLive(t, env, "D")
	connect(t, a, b, c) // C joins A+B
	wantReason(t, d.owner, "cohost.request", map[string]any{"roomId": "C"}, "cohost_busy")
	wantReason(t, b.owner, "cohost.request", map[string]any{"roomId": "D"}, "cohost_busy")

	call(t, b.owner, "cohost.leave", nil, nil)
	for _, x := range b.both() {
		wait(t, x, "cohost.changed", changedTo())
	}
	for _, r := range []liveRoom{a, c} {
		for _, x := range r.both() {
			wait(t, x, "cohost.changed", changedTo("A", "C"))
		}
	}
	// A pending request of a room that ends ends with room_ended, told to
	// the other side; the room leaves its connection, which ends.
	id := cohostRequest(t, a, "D", 10)
	call(t, a.owner, "room.end", nil, nil)
	wait(t, d.owner, "cohost.requestCancelled", func(p json.RawMessage) bool {
		var v proto.CohostRequestCancelled
		return json.Unmarshal(p, &v) == nil && v.RequestID == id && v.Reason == "room_ended"
	})
	for _, x := range c.both() {
		wait(t, x, "cohost.changed", changedTo())
	}
	metricsShow(t, env, "seatsfu_cohost_connections 0", `seatsfu_cohost_requests_total{outcome="room_ended"} 1`)
	// The ended room's id can be opened again, as a new, free room.
	a2, _ := join(t, env, "A", "own-A", proto.RoleOwner, nil)
	_ = a2
	call(t, c.owner, "cohost.request", map[string]any{"roomId": "A"}, nil)
}

// A request's timeout fires within ±250 ms of expiresAt and tells both
// owners.
//
// Not parallel, like TestBattle: it measures a deadline, and sharing the
// two cores with the package's parallel media tests measures the box.
func TestCohostRequestTimeout(t *testing.T) {
	env := signaltest.Start(t)
	a, b := openLive(t, env, "A"), openLive(t, env, "B")
	id := cohostRequest(t, a, "B", 1)
	n := wait(t, b.owner, "cohost.requestReceived", nil)
	var rr proto.CohostRequestReceived
	_ = json.Unmarshal(n.Params, &rr)
	expires := time.UnixMilli(rr.Request.ExpiresAt)
	for _, o := range []*signaltest.Conn{a.owner, b.owner} {
		n := wait(t, o, "cohost.requestCancelled", requestIs(id))
		var v proto.CohostRequestCancelled
		_ = json.Unmarshal(n.Params, &v)
		if v.Reason != "timeout" {
			t.Fatalf("reason %q", v.Reason)
		}
		off := n.At.Sub(expires)
		if abs(off) > 250*time.Millisecond {
			t.Fatalf("timeout fired %v off expiresAt", off)
		}
		t.Logf("requestCancelled{timeout} arrived %v after expiresAt", off)
	}
	metricsShow(t, env, `seatsfu_cohost_requests_total{outcome="timeout"} 1`)
}

// A battle: started to all, scores from the API coalesced to at most 5 a
// second, a late joiner's snapshot, the end at endsAt ±250 ms with the
// tied winners; then stop and a connection ending mid-battle.
func TestBattle(t *testing.T) {
	env := signaltest.Start(t, signaltest.WithDevMode())
	a, b := openLive(t, env, "A"), openLive(t, env, "B")
	connect(t, a, b)
	var started proto.BattleStartResult
	call(t, b.owner, "battle.start", map[string]any{"duration": 10}, &started)
	var bs proto.BattleStarted
	for _, c := range append(a.both(), b.both()...) {
		n := wait(t, c, "battle.started", nil)
		_ = json.Unmarshal(n.Params, &bs)
	}
	if bs.BattleID != started.BattleID || !reflect.DeepEqual(bs.Rooms, []string{"A", "B"}) {
		t.Fatalf("battle.started %+v", bs)
	}
	// A burst of 50 scores: coalesced, the last totals always delivered.
	begin := time.Now()
	for i := range 50 {
		room := "A"
		if i%2 == 1 {
			room = "B"
		}
		if err := env.Server.AddBattleScore(started.BattleID, room, 2); err != nil {
			t.Fatal(err)
		}
	}
	final := func(p json.RawMessage) bool {
		var v proto.BattleScores
		return json.Unmarshal(p, &v) == nil && v.Scores["A"] == 50 && v.Scores["B"] == 50
	}
	wait(t, a.viewer, "battle.scores", final)
	if n, most := a.viewer.Count("battle.scores"), int(time.Since(begin)/(200*time.Millisecond))+1; n > most {
		t.Fatalf("%d battle.scores in %v, want at most %d", n, time.Since(begin), most)
	} else {
		t.Logf("50 scores in %v made %d battle.scores", time.Since(begin).Round(time.Millisecond), n)
	}
	// The dev-mode demo endpoint scores too.
	post := func(battle, body string) int {
		resp, err := http.Post(fmt.Sprintf("%s/demo/battles/%s/score", env.URL, battle), "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(started.BattleID, `{"roomId":"A","delta":3}`); got != 200 {
		t.Fatalf("demo score: %d", got)
	}
	if got := post("nope", `{"roomId":"A","delta":3}`); got != 404 {
		t.Fatalf("demo score of an unknown battle: %d", got)
	}
	if got := post(started.BattleID, `{"roomId":"A"}`); got != 400 {
		t.Fatalf("demo score without delta: %d", got)
	}
	if err := env.Server.AddBattleScore(started.BattleID, "B", 3); err != nil {
		t.Fatal(err)
	}
	tied := func(p json.RawMessage) bool {
		var v proto.BattleScores
		return json.Unmarshal(p, &v) == nil && v.Scores["A"] == 53 && v.Scores["B"] == 53
	}
	wait(t, b.owner, "battle.scores", tied)
	snap := joinCohostSnap(t, env, "A", "late")
	if snap.Battle == nil || snap.Battle.BattleID != started.BattleID || snap.Battle.Scores["A"] != 53 ||
		snap.Battle.EndsAt != bs.EndsAt {
		t.Fatalf("late joiner's battle %+v", snap.Battle)
	}
	for _, c := range append(a.both(), b.both()...) {
		n := wait(t, c, "battle.ended", nil)
		var v proto.BattleEnded
		_ = json.Unmarshal(n.Params, &v)
		if v.Reason != "timeout" || !reflect.DeepEqual(v.Winners, []string{"A", "B"}) || v.Scores["B"] != 53 {
			t.Fatalf("battle.ended %+v", v)
		}
		off := n.At.Sub(time.UnixMilli(bs.EndsAt))
		if abs(off) > 250*time.Millisecond {
			t.Fatalf("battle ended %v off endsAt", off)
		}
		t.Logf("battle.ended arrived %v after endsAt", off)
	}
	// Stop.
	call(t, a.owner, "battle.start", map[string]any{"duration": 60}, &started)
	if err := env.Server.AddBattleScore(started.BattleID, "B", 1); err != nil {
		t.Fatal(err)
	}
	call(t, a.owner, "battle.stop", nil, nil)
	wait(t, b.viewer, "battle.ended", func(p json.RawMessage) bool {
		var v proto.BattleEnded
		return json.Unmarshal(p, &v) == nil && v.BattleID == started.BattleID && v.Reason == "stopped" &&
			reflect.DeepEqual(v.Winners, []string{"B"})
	})
	// The connection ending mid-battle.
	call(t, a.owner, "battle.start", map[string]any{"duration": 60}, &started)
	call(t, b.owner, "cohost.leave", nil, nil)
	for _, c := range append(a.both(), b.both()...) {
		wait(t, c, "battle.ended", func(p json.RawMessage) bool {
			var v proto.BattleEnded
			return json.Unmarshal(p, &v) == nil && v.BattleID == started.BattleID && v.Reason == "connection_ended"
		})
		wait(t, c, "cohost.changed", changedTo())
	}
	metricsShow(t, env, `seatsfu_battles_total{reason="timeout"} 1`, `seatsfu_battles_total{reason="stopped"} 1`,
		`seatsfu_battles_total{reason="connection_ended"} 1`)
}

func TestDemoScoreIsDevModeOnly(t *testing.T) {
	env := signaltest.Start(t)
	resp, err := http.Post(env.URL+"/demo/battles/x/score", "application/json", bytes.NewBufferString(`{"roomId":"A","delta":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("status %d outside dev mode", resp.StatusCode)
	}
}

// metricsShow waits until /metrics shows every line of want: the desk
// counts an operation right after notifying it.
func metricsShow(t *testing.T, env *signaltest.Env, want ...string) {
	t.Helper()
	eventually(t, fmt.Sprintf("metrics showing %q", want), func() bool {
		m := scrape(t, env)
		for _, w := range want {
			if !contains(m, w) {
				return false
			}
		}
		return true
	})
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// An owner that stays away past its grace ends its room (owner_timeout):
// its pending requests end with room_ended and its connection ends, told
// to the other room.
func TestCohostOwnerTimeout(t *testing.T) {
	t.Parallel()
	env := signaltest.Start(t, signaltest.WithGrace(300*time.Millisecond))
	a, b, c := openLive(t, env, "A"), openLive(t, env, "B"), openLive(t, env, "C")
	connect(t, a, b)
	id := cohostRequest(t, a, "C", 30)
	a.owner.Close() // the owner's socket drops and does not come back
	wait(t, a.viewer, "room.ended", reasonIs("owner_timeout"))
	wait(t, c.owner, "cohost.requestCancelled", func(p json.RawMessage) bool {
		var v proto.CohostRequestCancelled
		return json.Unmarshal(p, &v) == nil && v.RequestID == id && v.Reason == "room_ended"
	})
	for _, x := range b.both() {
		wait(t, x, "cohost.changed", changedTo())
	}
	metricsShow(t, env, "seatsfu_cohost_connections 0")
}
