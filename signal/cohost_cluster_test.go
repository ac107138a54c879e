package signal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/seatsfu/seatsfu/internal/redistest"
	"github.com/seatsfu/seatsfu/signal"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// cohostNode starts a cluster node whose leases and registry entry last
// 4 s instead of signaltest's 1 s: these tests stop nodes (their rooms and
// entries go at once) but never wait for a lease to lapse, and a 1 s lease
// missed its renewals under load average 15 (a room moved mid-test).
func cohostNode(t *testing.T, rd *redistest.Server, secret []byte, opts ...signaltest.Option) *signaltest.Env {
	t.Helper()
	return clusterNode(t, rd, secret, append(opts, signaltest.WithSignalConfig(func(c *signal.Config) {
		c.Cluster.Node.LeaseTTL, c.Cluster.Node.NodeTTL = 4*time.Second, 4*time.Second
	}))...)
}

// farViewer is a room's viewer whose socket reaches another node than the
// room's host: served by that node's cascade, co-host slots included.
type farViewer struct {
	conn         *signaltest.Conn
	view         *mediaViewer
	audio, video string // co-host slot 1
}

func watchFrom(t *testing.T, node *signaltest.Env, room, user string) *farViewer {
	t.Helper()
	c := relayedJoin(t, node, room, user, proto.RoleAudience)
	v := subscribeTagged(t, c, 3)
	return &farViewer{conn: c, view: v, audio: v.cohostMid(t, 1, "audio"), video: v.cohostMid(t, 1, "video")}
}

func (f *farViewer) carries(t *testing.T, what string, tag byte) {
	t.Helper()
	a, v := f.view.tagged(f.audio, tag), f.view.tagged(f.video, tag)
	eventually(t, what+" carrying "+string(tag)+" on co-host slot 1", func() bool {
		return f.view.tagged(f.audio, tag) >= a+20 && f.view.tagged(f.video, tag) >= v+20
	})
}

// silent: nothing of from's media sent after lastSent reaches the slot.
func (f *farViewer) silent(t *testing.T, what string, from *mediaRoom, lastSent uint32) {
	t.Helper()
	sent := from.pub.counter.Load()
	eventually(t, from.id+" sending on for 1 s", func() bool { return from.pub.counter.Load() >= sent+100 })
	for _, mid := range []string{f.audio, f.video} {
		for _, g := range f.view.packets(mid) {
			// One hop more than on the host: what the host forwarded
			// before the change may still be on its way, never later.
			if g.tag == from.pub.tag && g.counter > lastSent+5 {
				t.Fatalf("%s's co-host slot got packet %d of %s, sent after the change (last before: %d)", what, g.counter, from.id, lastSent)
			}
		}
	}
}

// TestCohostAcrossNodes: room A is hosted on node a, room B on node b,
// each with a viewer on its host and one whose socket reaches another node
// (A's through c, B's through a). A's owner requests, B's owner (on b)
// accepts — the call crosses to a, whose controller holds the relation —
// and every viewer, wherever it is, gets the other owner's media on its
// first co-host slot. A battle started on b is scored through node c (the
// score finds the node that runs it). cohost.leave from b and B's end on
// b end the relation on both nodes and stop the media; a room on node c
// co-hosting with A keeps the relation when c stops and the room is hosted
// elsewhere.
func TestCohostAcrossNodes(t *testing.T) {
	tl := newTestLog(t)
	rd := redistest.Start(t)
	secret := newSecret(t)
	// The nodes' warnings (a cascade that could not be set up, a push
	// that failed) go to the test's log: shown when it fails.
	lg := func(n string) signaltest.Option {
		return signaltest.WithLogger(slog.New(slog.NewTextHandler(tl, &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", n))
	}
	a := cohostNode(t, rd, secret, lg("a"))
	b := cohostNode(t, rd, secret, lg("b"))
	c := cohostNode(t, rd, secret, lg("c"))
	A := openMediaRoom(t, a, "A", 'A')
	B := openMediaRoom(t, b, "B", 'B')
	farA := watchFrom(t, c, "A", "far-A")
	farB := watchFrom(t, a, "B", "far-B")
	everyone := append(append(A.both(), B.both()...), farA.conn, farB.conn)

	// The request crosses from a to b, the acceptance from b to a.
	connect(t, A.liveRoom, B.liveRoom)
	for _, f := range []*farViewer{farA, farB} {
		wait(t, f.conn, proto.NoteCohostChanged, changedTo("A", "B"))
	}
	// The answer followed the snapshot: a member joining B anywhere sees it.
	for i, node := range []*signaltest.Env{a, b, c} {
		late := relayedOrDirect(t, node, "B", fmt.Sprintf("late-%d", i))
		if got := roomIDs(late.Cohost); len(got) != 2 || got[0] != "A" || got[1] != "B" {
			t.Fatalf("a member joining B through %s sees the connection %v", node.URL, got)
		}
	}
	A.carries(t, 'B')
	B.carries(t, 'A')
	farA.carries(t, "A's viewer on c", 'B')
	farB.carries(t, "B's viewer on a", 'A')

	// A battle started on b, scored through c.
	var started proto.BattleStartResult
	call(t, B.owner, proto.MethodBattleStart, map[string]any{"duration": 30}, &started)
	for _, cn := range everyone {
		wait(t, cn, proto.NoteBattleStarted, nil)
	}
	if err := c.Server.AddBattleScore(started.BattleID, "B", 7); err != nil {
		t.Fatalf("score through node c: %v", err)
	}
	scored := func(p json.RawMessage) bool {
		var v proto.BattleScores
		return json.Unmarshal(p, &v) == nil && v.Scores["B"] == 7
	}
	wait(t, farA.conn, proto.NoteBattleScores, scored)
	wait(t, B.viewer, proto.NoteBattleScores, scored)
	if err := c.Server.AddBattleScore("no-such-battle", "B", 1); !errors.Is(err, signal.ErrBattleNotFound) {
		t.Fatalf("an unknown battle scored through c: %v", err)
	}
	if err := b.Server.AddBattleScore(started.BattleID, "nobody", 1); !errors.Is(err, signal.ErrRoomNotInBattle) {
		t.Fatalf("a room outside the battle scored through b: %v", err)
	}
	wantReason(t, B.owner, proto.MethodBattleStart, map[string]any{"duration": 30}, "battle_running")
	call(t, A.owner, proto.MethodBattleStop, nil, nil)
	for _, cn := range everyone {
		wait(t, cn, proto.NoteBattleEnded, nil)
	}

	// cohost.leave from b.
	seen := marks(everyone)
	call(t, B.owner, proto.MethodCohostLeave, nil, nil)
	leftAt, lastA, lastB := time.Now(), A.pub.counter.Load(), B.pub.counter.Load()
	for i, cn := range everyone {
		waitAfter(t, cn, seen[i], proto.NoteCohostChanged, changedTo())
	}
	A.silentAfter(t, B, lastB, leftAt)
	B.silentAfter(t, A, lastA, leftAt)
	farA.silent(t, "A's viewer on c", B, lastB)
	wantReason(t, B.owner, proto.MethodCohostLeave, nil, "not_connected")

	// Connected again, asked from b this time; then B ends on b.
	connect(t, B.liveRoom, A.liveRoom)
	A.carries(t, 'B')
	farA.carries(t, "A's viewer on c", 'B')
	seen = marks(append(A.both(), farA.conn))
	call(t, B.owner, proto.MethodRoomEnd, nil, nil)
	lastB = B.pub.counter.Load()
	for i, cn := range append(A.both(), farA.conn) {
		waitAfter(t, cn, seen[i], proto.NoteCohostChanged, changedTo())
	}
	farA.silent(t, "A's viewer on c", B, lastB)
	wantReason(t, A.owner, proto.MethodCohostRequest, map[string]any{"roomId": "B"}, string(proto.ReasonRoomNotFound))

	// A room of node c co-hosts with A; c stops (its rooms are handed
	// over). The relation follows C to its new node: C's owner, back
	// through b, finds it, and A's members hear of no change.
	C := liveRoom{id: "C"}
	C.owner, _ = join(t, c, "C", "own-C", proto.RoleOwner, nil)
	C.viewer, _ = join(t, c, "C", "fan-C", proto.RoleAudience, nil)
	connect(t, A.liveRoom, C)
	seen = marks(A.both())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Server.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var back *signaltest.Conn
	var snap cohostSnap
	eventually(t, "C's owner back through b", func() bool {
		cn, err := b.Dial(testCtx(t), b.Token("C", "own-C", proto.RoleOwner))
		if err != nil {
			t.Fatal(err)
		}
		if err := cn.Call(testCtx(t), proto.MethodRoomJoin, nil, &snap); err != nil {
			cn.Close()
			return false
		}
		back = cn
		return true
	})
	t.Cleanup(back.Close)
	ac := []string{"A", "C"}
	eventually(t, "C's owner seeing the relation again", func() bool {
		if got := roomIDs(snap.Cohost); len(got) == 2 && got[0] == "A" && got[1] == "C" {
			return true
		}
		return back.Count(proto.NoteCohostChanged) > 0 && changedTo(ac...)(back.Notes()[len(back.Notes())-1].Params)
	})
	var lateSnap cohostSnap
	eventually(t, "a member joining C through a", func() bool { // a's route to C may name c for a tick
		late := dial(t, a, "C", "late-C", proto.RoleAudience)
		err := late.Call(testCtx(t), proto.MethodRoomJoin, nil, &lateSnap)
		if err != nil && !signaltest.IsReason(err, string(proto.ReasonRoomNotFound)) {
			t.Fatal(err)
		}
		return err == nil
	})
	if got := roomIDs(lateSnap.Cohost); len(got) != 2 || got[0] != "A" || got[1] != "C" {
		t.Fatalf("a member joining C sees the connection %v", got)
	}
	for i, cn := range A.both() {
		for _, n := range cn.Notes()[seen[i]:] {
			if n.Method == proto.NoteCohostChanged {
				t.Fatalf("A's member heard cohost.changed %s while C moved", n.Params)
			}
		}
	}
	// The relation is live on C's new node: its owner's leave ends it.
	call(t, back, proto.MethodCohostLeave, nil, nil)
	for i, cn := range A.both() {
		waitAfter(t, cn, seen[i], proto.NoteCohostChanged, changedTo())
	}
}

// relayedOrDirect joins room as an audience member through node (relayed
// when node does not host it) and returns the snapshot's co-host state.
func relayedOrDirect(t *testing.T, node *signaltest.Env, room, user string) cohostSnap {
	t.Helper()
	c := dial(t, node, room, user, proto.RoleAudience)
	var snap cohostSnap
	call(t, c, proto.MethodRoomJoin, nil, &snap)
	return snap
}

// testLog writes a logger's lines to the test's log until the test's
// cleanups are done (a log after that would panic).
type testLog struct {
	t    *testing.T
	mu   *sync.Mutex
	done *bool
}

func newTestLog(t *testing.T) testLog {
	w := testLog{t: t, mu: &sync.Mutex{}, done: new(bool)}
	t.Cleanup(func() { w.mu.Lock(); *w.done = true; w.mu.Unlock() }) // runs last
	return w
}

func (w testLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !*w.done {
		w.t.Log(string(p))
	}
	return len(p), nil
}

// TestCohostOwnerNodeStops: A's node holds the relation of A's request to
// B (on node b) and stops. B's owner is told the request is gone
// (room_ended), a call about it is answered at once — never held for the
// dead node — and B is free to co-host on its own node again.
func TestCohostOwnerNodeStops(t *testing.T) {
	tl := newTestLog(t)
	rd := redistest.Start(t)
	secret := newSecret(t)
	lg := func(n string) signaltest.Option {
		return signaltest.WithLogger(slog.New(slog.NewTextHandler(tl, &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", n))
	}
	a := cohostNode(t, rd, secret, lg("a"))
	b := cohostNode(t, rd, secret, lg("b"))
	A := liveRoom{id: "A"}
	A.owner, _ = join(t, a, "A", "own-A", proto.RoleOwner, nil)
	B := openLive(t, b, "B")
	C := openLive(t, b, "C")
	var id string
	eventually(t, "node a reaching B's node", func() bool { // a learns b at its next tick
		var res proto.CohostRequestResult
		err := A.owner.Call(testCtx(t), proto.MethodCohostRequest, map[string]any{"roomId": "B", "timeout": 30}, &res)
		if err != nil && !signaltest.IsReason(err, string(proto.ReasonOverloaded)) {
			t.Fatal(err)
		}
		id = res.RequestID
		return err == nil
	})
	wait(t, B.owner, proto.NoteCohostRequestReceived, func(p json.RawMessage) bool {
		var v proto.CohostRequestReceived
		return json.Unmarshal(p, &v) == nil && v.Request.RequestID == id
	})
	// B is the relation's on node a now: C (on b) cannot ask it meanwhile.
	wantReason(t, C.owner, proto.MethodCohostRequest, map[string]any{"roomId": "B"}, "cohost_busy")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Server.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	asked := time.Now()
	err := B.owner.Call(testCtx(t), proto.MethodCohostAccept, map[string]any{"requestId": id}, nil)
	if !signaltest.IsReason(err, string(proto.ReasonOverloaded)) && !signaltest.IsReason(err, "request_not_found") {
		t.Fatalf("accepting a request of a stopped node: %v", err)
	}
	if took := time.Since(asked); took > 2*time.Second {
		t.Fatalf("the accept was held %v for the stopped node", took)
	}
	wait(t, B.owner, proto.NoteCohostRequestCancelled, func(p json.RawMessage) bool {
		var v proto.CohostRequestCancelled
		return json.Unmarshal(p, &v) == nil && v.RequestID == id && v.Reason == "room_ended"
	})
	connect(t, C, B)
}

// rawSocket reads a socket's frames in the order they arrived, answers
// and notifications alike.
type rawSocket struct {
	t      *testing.T
	ws     *websocket.Conn
	frames []proto.Frame
	nextID int
}

func dialRaw(t *testing.T, node *signaltest.Env, tok string) *rawSocket {
	t.Helper()
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok)
	ws, _, err := websocket.Dial(testCtx(t), node.WSURL, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return &rawSocket{t: t, ws: ws}
}

// send sends a call and returns its id.
func (r *rawSocket) send(method string, params any) string {
	r.t.Helper()
	r.nextID++
	id := strconv.Itoa(r.nextID)
	b, _ := json.Marshal(proto.Call{JSONRPC: proto.Version, ID: json.RawMessage(id), Method: method, Params: params})
	if err := r.ws.Write(testCtx(r.t), websocket.MessageText, b); err != nil {
		r.t.Fatal(err)
	}
	return id
}

// until reads frames until done holds for what was read.
func (r *rawSocket) until(what string, done func() bool) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !done() {
		_, b, err := r.ws.Read(ctx)
		if err != nil {
			r.t.Fatalf("waiting for %s: %v", what, err)
		}
		var f proto.Frame
		if err := json.Unmarshal(b, &f); err != nil {
			r.t.Fatal(err)
		}
		r.frames = append(r.frames, f)
	}
}

// index is the position of the first frame that is the answer to id
// (method "") or a notification of method; -1 when none.
func (r *rawSocket) index(id, method string) int {
	for i, f := range r.frames {
		if (method == "" && string(f.ID) == id) || (method != "" && f.Method == method) {
			return i
		}
	}
	return -1
}

// answers counts the answers to id.
func (r *rawSocket) answers(id string) int {
	n := 0
	for _, f := range r.frames {
		if f.Method == "" && string(f.ID) == id {
			n++
		}
	}
	return n
}

// TestCohostAcrossNodesOrder: B's owner, on node b, accepts a request of
// A's (hosted on node a) and starts a battle; both calls cross to a. On
// B's owner's socket each answer comes once, before the notifications the
// call caused (PROTOCOL.md §10's order holds across nodes).
func TestCohostAcrossNodesOrder(t *testing.T) {
	rd := redistest.Start(t)
	secret := newSecret(t)
	a := cohostNode(t, rd, secret)
	b := cohostNode(t, rd, secret)
	A := liveRoom{id: "A"}
	A.owner, _ = join(t, a, "A", "own-A", proto.RoleOwner, nil)
	ob := dialRaw(t, b, b.Token("B", "own-B", proto.RoleOwner))
	joined := ob.send(proto.MethodRoomJoin, nil)
	ob.until("B's join", func() bool { return ob.index(joined, "") >= 0 })

	var id string
	eventually(t, "node a reaching B's node", func() bool {
		var res proto.CohostRequestResult
		err := A.owner.Call(testCtx(t), proto.MethodCohostRequest, map[string]any{"roomId": "B"}, &res)
		if err != nil && !signaltest.IsReason(err, string(proto.ReasonOverloaded)) {
			t.Fatal(err)
		}
		id = res.RequestID
		return err == nil
	})
	ob.until("the request at B", func() bool { return ob.index("", proto.NoteCohostRequestReceived) >= 0 })

	accept := ob.send(proto.MethodCohostAccept, map[string]any{"requestId": id})
	ob.until("the accept's answer and cohost.changed", func() bool {
		return ob.index(accept, "") >= 0 && ob.index("", proto.NoteCohostChanged) >= 0
	})
	if ans, note := ob.index(accept, ""), ob.index("", proto.NoteCohostChanged); ans > note {
		t.Fatalf("cohost.changed (frame %d) came before the accept's answer (frame %d)", note, ans)
	}
	battle := ob.send(proto.MethodBattleStart, map[string]any{"duration": 30})
	ob.until("the battle's answer and battle.started", func() bool {
		return ob.index(battle, "") >= 0 && ob.index("", proto.NoteBattleStarted) >= 0
	})
	if ans, note := ob.index(battle, ""), ob.index("", proto.NoteBattleStarted); ans > note {
		t.Fatalf("battle.started (frame %d) came before battle.start's answer (frame %d)", note, ans)
	}
	// A last round trip: any second answer to the calls above is in by now.
	ping := ob.send(proto.MethodCohostLeave, nil)
	ob.until("cohost.leave's answer", func() bool { return ob.index(ping, "") >= 0 })
	for _, id := range []string{accept, battle, ping} {
		if n := ob.answers(id); n != 1 {
			t.Fatalf("call %s answered %d times", id, n)
		}
	}
	wait(t, A.owner, proto.NoteCohostChanged, changedTo())
}
