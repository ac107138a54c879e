package signal_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/seatsfu/seatsfu/internal/cluster"
	"github.com/seatsfu/seatsfu/internal/redistest"
	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/signal"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// clusterNode starts one in-process node of the cluster on rd.
func clusterNode(t *testing.T, rd *redistest.Server, secret []byte, opts ...signaltest.Option) *signaltest.Env {
	t.Helper()
	return signaltest.StartNode(t, rd.URL(), secret, opts...)
}

func openStore(t *testing.T, rd *redistest.Server) *cluster.Store {
	t.Helper()
	return signaltest.OpenStore(t, rd.URL())
}

func newSecret(t *testing.T) []byte {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	return secret
}

// savedState reads the room's state as Redis holds it now.
func savedState(t *testing.T, store *cluster.Store, room string) seat.State {
	t.Helper()
	saved, err := store.Load(testCtx(t), room)
	if err != nil {
		t.Fatalf("load %s: %v", room, err)
	}
	st, err := cluster.DecodeState(saved.Blob)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func ptr[T any](v T) *T { return &v }

// TestClusterAnswerFollowsSavedState: whenever a client holds an answer,
// Redis already holds the state that answer reports — the ordering that
// keeps a request from being answered twice across a takeover.
func TestClusterAnswerFollowsSavedState(t *testing.T) {
	rd := redistest.Start(t)
	reader := openStore(t, rd)
	node := clusterNode(t, rd, newSecret(t))
	owner, _ := join(t, node, "r1", "owner", proto.RoleOwner, map[string]any{"create": map[string]any{"maxSeats": 4}})
	if st := savedState(t, reader, "r1"); st.MaxSeats != 4 || len(st.Members) != 1 {
		t.Fatalf("after the owner's join Redis holds %+v", st)
	}
	guest, _ := join(t, node, "r1", "guest", proto.RoleAudience, nil)

	var req proto.RequestIDResult
	call(t, guest, proto.MethodSeatApply, map[string]any{"seatIndex": 1}, &req)
	if st := savedState(t, reader, "r1"); len(st.Requests) != 1 || st.Requests[0].Subject != "guest" {
		t.Fatalf("answered seat.apply, but Redis holds requests %+v", st.Requests)
	}
	call(t, owner, proto.MethodSeatAcceptApplication, proto.UserParams{UserID: "guest"}, nil)
	if st := savedState(t, reader, "r1"); st.Seats[1].UserID != "guest" || len(st.Requests) != 0 {
		t.Fatalf("answered the accept, but Redis holds seats %+v requests %+v", st.Seats, st.Requests)
	}
	call(t, owner, proto.MethodSeatLock, proto.LockParams{SeatIndex: ptr(2), LockSeat: ptr(true)}, nil)
	if st := savedState(t, reader, "r1"); !st.Seats[2].Locked {
		t.Fatalf("answered seat.lock, but Redis holds seat 2 %+v", st.Seats[2])
	}
	bad, _ := join(t, node, "r1", "bad", proto.RoleAudience, nil)
	call(t, owner, proto.MethodRoomKickOut, proto.UserParams{UserID: "bad"}, nil)
	if st := savedState(t, reader, "r1"); len(st.Banned) != 1 || st.Banned[0] != "bad" {
		t.Fatalf("answered room.kickOut, but Redis holds bans %v", st.Banned)
	}
	_ = bad
	call(t, owner, proto.MethodRoomEnd, nil, nil)
	if _, err := reader.Load(testCtx(t), "r1"); err != cluster.ErrNoState {
		t.Fatalf("answered room.end, but Redis still has the room: %v", err)
	}
}

// TestClusterRoomOutlivesItsNode: a node that stops hands its room over;
// the other node continues it with its seats, locks and bans, and the
// owner and the seated guest resume there within the grace — the owner's
// return keeps the room from ending with owner_timeout.
func TestClusterRoomOutlivesItsNode(t *testing.T) {
	rd := redistest.Start(t)
	secret := newSecret(t)
	a := clusterNode(t, rd, secret)
	b := clusterNode(t, rd, secret)

	owner, _ := join(t, a, "r1", "owner", proto.RoleOwner, map[string]any{"create": map[string]any{"maxSeats": 4}})
	guest, _ := join(t, a, "r1", "guest", proto.RoleAudience, nil)
	call(t, guest, proto.MethodSeatApply, map[string]any{"seatIndex": 1}, nil)
	call(t, owner, proto.MethodSeatAcceptApplication, proto.UserParams{UserID: "guest"}, nil)
	call(t, owner, proto.MethodSeatLock, proto.LockParams{SeatIndex: ptr(2), LockSeat: ptr(true)}, nil)
	join(t, a, "r1", "bad", proto.RoleAudience, nil)
	call(t, owner, proto.MethodRoomKickOut, proto.UserParams{UserID: "bad"}, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Server.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// Node a's clients lose their sockets without room.ended: the room
	// goes on elsewhere.
	for _, c := range []*signaltest.Conn{owner, guest} {
		if _, err := c.Closed(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if n := c.Count(proto.NoteRoomEnded); n != 0 {
			t.Fatalf("a client of the stopped node got room.ended")
		}
	}

	owner2, snap := join(t, b, "r1", "owner", proto.RoleOwner, nil)
	if u := snap.Seats[1].User; u == nil || u.UserID != "guest" {
		t.Fatalf("seat 1 after the takeover: %+v", snap.Seats[1])
	}
	if !snap.Seats[2].Locked {
		t.Fatalf("seat 2 lost its lock in the takeover: %+v", snap.Seats[2])
	}
	if snap.Seats[0].User == nil || snap.Seats[0].User.UserID != "owner" {
		t.Fatalf("the owner lost seat 0: %+v", snap.Seats[0])
	}
	badAgain := dial(t, b, "r1", "bad", proto.RoleAudience)
	wantReason(t, badAgain, proto.MethodRoomJoin, nil, string(proto.ReasonBanned))
	guest2, gsnap := join(t, b, "r1", "guest", proto.RoleAudience, nil)
	if u := gsnap.Seats[1].User; u == nil || u.UserID != "guest" {
		t.Fatalf("the guest did not resume on seat 1: %+v", gsnap.Seats[1])
	}
	// The room is live on b: an operation there is answered and heard.
	call(t, owner2, proto.MethodSeatKick, proto.UserParams{UserID: "guest"}, nil)
	wait(t, guest2, proto.NoteSeatChanged, nil)
}

// TestClusterRedisDown: with Redis gone a running room keeps answering,
// a new room is refused with overloaded and a message saying why, and
// everything recovers when Redis returns — the change made meanwhile
// reaches Redis.
func TestClusterRedisDown(t *testing.T) {
	rd := redistest.Start(t)
	reader := openStore(t, rd)
	node := clusterNode(t, rd, newSecret(t))
	owner, _ := join(t, node, "r1", "owner", proto.RoleOwner, nil)

	rd.Kill()
	call(t, owner, proto.MethodSeatLock, proto.LockParams{SeatIndex: ptr(3), LockSeat: ptr(true)}, nil)
	other := dial(t, node, "r2", "owner2", proto.RoleOwner)
	err := other.Call(testCtx(t), proto.MethodRoomJoin, nil, nil)
	if !signaltest.IsReason(err, string(proto.ReasonOverloaded)) || !strings.Contains(err.Error(), "cluster state store unavailable") {
		t.Fatalf("a new room with Redis down: %v, want overloaded saying the store is unavailable", err)
	}
	call(t, owner, proto.MethodSeatLock, proto.LockParams{SeatIndex: ptr(2), LockSeat: ptr(true)}, nil)

	rd.Restart()
	eventually(t, "the new room once Redis is back", func() bool {
		return other.Call(testCtx(t), proto.MethodRoomJoin, nil, nil) == nil
	})
	eventually(t, "the change made while Redis was down reaching it", func() bool {
		saved, err := reader.Load(testCtx(t), "r1")
		if err != nil {
			return false
		}
		st, err := cluster.DecodeState(saved.Blob)
		return err == nil && st.Seats[2].Locked && st.Seats[3].Locked
	})
}

// TestClusterRelay: any node accepts any client. The owner is on node a,
// which hosts the room; the audience member connects to node b, which
// relays it to a. The apply, the accept and their notifications cross
// both ways, and the relayed member's socket is closed with the host's
// close code when the host kicks it out.
func TestClusterRelay(t *testing.T) {
	rd := redistest.Start(t)
	secret := newSecret(t)
	a := clusterNode(t, rd, secret)
	b := clusterNode(t, rd, secret)
	owner, _ := join(t, a, "r1", "owner", proto.RoleOwner, nil)

	// b learns a's registration at its next tick.
	var guest *signaltest.Conn
	eventually(t, "node b relaying to the room's host", func() bool {
		c, err := b.Dial(testCtx(t), b.Token("r1", "guest", proto.RoleAudience))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Call(testCtx(t), proto.MethodRoomJoin, nil, nil); err != nil {
			c.Close()
			return false
		}
		guest = c
		return true
	})
	t.Cleanup(guest.Close)
	if b.SFU.Room("r1") != nil {
		t.Fatal("node b opened the room instead of relaying to its host")
	}
	if n := gaugeValue(t, b, "seatsfu_cluster_relayed_sockets"); n != 1 {
		t.Fatalf("node b relays %v sockets, want 1", n)
	}

	var req proto.RequestIDResult
	call(t, guest, proto.MethodSeatApply, map[string]any{"seatIndex": 1}, &req)
	wait(t, owner, proto.NoteApplicationReceived, nil)
	call(t, owner, proto.MethodSeatAcceptApplication, proto.UserParams{UserID: "guest"}, nil)
	wait(t, guest, proto.NoteApplicationResponded, nil)
	seated := func(p json.RawMessage) bool {
		var ch proto.SeatChanged
		return json.Unmarshal(p, &ch) == nil && len(ch.Joined) == 1 && ch.Joined[0].User.UserID == "guest"
	}
	wait(t, guest, proto.NoteSeatChanged, seated)
	wait(t, owner, proto.NoteSeatChanged, seated)

	call(t, owner, proto.MethodRoomKickOut, proto.UserParams{UserID: "guest"}, nil)
	wait(t, guest, proto.NoteKickedOut, nil)
	code, err := guest.Closed(testCtx(t))
	if err != nil || code != websocket.StatusNormalClosure {
		t.Fatalf("the relayed socket of a kicked-out member closed with %v %v, want the host's %v", code, err, websocket.StatusNormalClosure)
	}
	eventually(t, "node b forgetting the relayed socket", func() bool {
		return gaugeValue(t, b, "seatsfu_cluster_relayed_sockets") == 0
	})
}

// gaugeValue reads one unlabelled gauge of env's registry.
func gaugeValue(t *testing.T, env *signaltest.Env, name string) float64 {
	t.Helper()
	mfs, err := env.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// BenchmarkClusterSeatOp is one state-changing seat operation (seat.lock,
// toggled) answered over a socket, on a lone node and on a cluster node
// whose answer waits for its state in a local redis-server:
// go test ./signal -run '^$' -bench ClusterSeatOp -benchtime 2000x
func BenchmarkClusterSeatOp(b *testing.B) {
	for _, mode := range []string{"single", "cluster"} {
		b.Run(mode, func(b *testing.B) {
			var env *signaltest.Env
			unlimited := signaltest.WithSignalConfig(func(c *signal.Config) { c.RequestRate = -1 })
			if mode == "cluster" {
				rd := redistest.Start(b)
				env = signaltest.StartNode(b, rd.URL(), make([]byte, 32), unlimited)
			} else {
				env = signaltest.Start(b, unlimited)
			}
			ctx := context.Background()
			c, err := env.Dial(ctx, env.Token("r1", "owner", proto.RoleOwner))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			c.DiscardNotifications()
			if err := c.Call(ctx, proto.MethodRoomJoin, nil, nil); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				lock := i%2 == 0
				if err := c.Call(ctx, proto.MethodSeatLock, proto.LockParams{SeatIndex: ptr(3), LockSeat: &lock}, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkClusterSeatOpParallel is BenchmarkClusterSeatOp with four admins
// of one room toggling their own seats' locks at once: while one state is
// on its way to Redis the room's other operations need not wait for it.
// go test ./signal -run '^$' -bench ClusterSeatOpParallel -benchtime 4000x
func BenchmarkClusterSeatOpParallel(b *testing.B) {
	rd := redistest.Start(b)
	unlimited := signaltest.WithSignalConfig(func(c *signal.Config) { c.RequestRate = -1 })
	env := signaltest.StartNode(b, rd.URL(), make([]byte, 32), unlimited)
	ctx := context.Background()
	dial := func(user string, role proto.Role) *signaltest.Conn {
		c, err := env.Dial(ctx, env.Token("r1", user, role))
		if err != nil {
			b.Fatal(err)
		}
		c.DiscardNotifications()
		if err := c.Call(ctx, proto.MethodRoomJoin, nil, nil); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(c.Close)
		return c
	}
	dial("owner", proto.RoleOwner)
	const admins = 4
	conns := make([]*signaltest.Conn, admins)
	for i := range conns {
		conns[i] = dial("admin"+strconv.Itoa(i), proto.RoleAdmin)
	}
	b.ResetTimer()
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			index := i + 1
			for n := i; n < b.N; n += admins {
				lock := (n/admins)%2 == 0
				if err := c.Call(ctx, proto.MethodSeatLock, proto.LockParams{SeatIndex: &index, LockSeat: &lock}, nil); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
