package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/internal/redistest"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
	"github.com/seatsfu/seatsfu/signal/token"
)

// childEnv makes the test binary run as seatsfu itself (TestMain), so a
// test can start real node processes and SIGKILL them.
const childEnv = "SEATSFU_TEST_CHILD"

// node is one seatsfu process of a test cluster.
type node struct {
	cmd  *exec.Cmd
	url  string // http://127.0.0.1:port
	log  *syncBuffer
	done chan struct{}
}

// startNode starts seatsfu serve in its own process on free loopback ports;
// extra are more flags. A port taken between freePort's pick and the node's
// bind is picked again: the node says so and exits at start.
func startNode(t *testing.T, redisURL, secret string, extra ...string) *node {
	t.Helper()
	for try := 1; ; try++ {
		n, inUse := tryStartNode(t, redisURL, secret, extra...)
		if !inUse {
			return n
		}
		if try == 3 {
			t.Fatalf("three picks of free ports were taken before the node bound them:\n%s", n.log.String())
		}
		t.Logf("a port was taken before the node bound it; picking again:\n%s", n.log.String())
	}
}

// tryStartNode is one start; inUse: the node exited at start because a port
// it was given was taken.
func tryStartNode(t *testing.T, redisURL, secret string, extra ...string) (n *node, inUse bool) {
	t.Helper()
	httpPort := freePort(t, "tcp")
	n = &node{url: "http://127.0.0.1:" + strconv.Itoa(httpPort), log: &syncBuffer{}, done: make(chan struct{})}
	n.cmd = exec.Command(os.Args[0], "serve",
		"--http", "127.0.0.1:"+strconv.Itoa(httpPort), "--rtc-udp-port", "0", "--rtc-ip", "127.0.0.1",
		"--secret", secret, "--redis", redisURL, "--node-addr", "127.0.0.1:"+strconv.Itoa(freePort(t, "tcp")),
		"--public-url", n.url, "--log-level", "debug")
	n.cmd.Args = append(n.cmd.Args, extra...)
	n.cmd.Env = append(os.Environ(), childEnv+"=1")
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = n.cmd.Wait(); close(n.done) }()
	t.Cleanup(func() {
		_ = n.cmd.Process.Kill()
		<-n.done
		if t.Failed() {
			t.Logf("node %s log:\n%s", n.url, n.log.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(n.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n, false
			}
		}
		select {
		case <-n.done:
			if strings.Contains(n.log.String(), "address already in use") {
				return n, true
			}
			t.Fatalf("node exited at start:\n%s", n.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s never answered /healthz:\n%s", n.url, n.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill SIGKILLs the node: no hand-over, its leases simply stop renewing.
func (n *node) kill(t *testing.T) {
	t.Helper()
	if err := n.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-n.done
}

// connect dials the node as user with a fresh token.
func (n *node) connect(ctx context.Context, t *testing.T, secret, room, user string, role proto.Role) (*signaltest.Conn, error) {
	raw, err := token.Mint([]byte(secret), token.Identity{UserID: user, Room: room, Name: user, Role: role}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	env := &signaltest.Env{WSURL: "ws" + n.url[len("http"):] + "/v1/rtc"}
	return env.Dial(ctx, raw)
}

func (n *node) join(ctx context.Context, t *testing.T, secret, room, user string, role proto.Role, params any) (*signaltest.Conn, proto.Snapshot, error) {
	c, err := n.connect(ctx, t, secret, room, user, role)
	if err != nil {
		return nil, proto.Snapshot{}, err
	}
	var snap proto.Snapshot
	if err := c.Call(ctx, proto.MethodRoomJoin, params, &snap); err != nil {
		c.Close()
		return nil, proto.Snapshot{}, err
	}
	t.Cleanup(c.Close)
	return c, snap, nil
}

// TestClusterSurvivesSIGKILL: two seatsfu processes share a real Redis.
// The node hosting a room is SIGKILLed; within 5 s the other node hosts
// it with the same seats, locks, bans and pending requests, the owner and
// the guest resume there, and a request answered before the kill is not
// answered again as a new one; the guest publishes again and a viewer
// receives it.
func TestClusterSurvivesSIGKILL(t *testing.T) {
	rd := redistest.Start(t)
	secret := clusterSecret(t)
	a := startNode(t, rd.URL(), secret)
	b := startNode(t, rd.URL(), secret)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	ptr := func(v int) *int { return &v }
	yes := true

	owner, _, err := a.join(ctx, t, secret, "r1", "owner", proto.RoleOwner, map[string]any{"create": map[string]any{"maxSeats": 4}})
	must("owner joins a", err)
	guest, _, err := a.join(ctx, t, secret, "r1", "guest", proto.RoleAudience, nil)
	must("guest joins a", err)
	must("apply", guest.Call(ctx, proto.MethodSeatApply, map[string]any{"seatIndex": 1}, nil))
	must("accept", owner.Call(ctx, proto.MethodSeatAcceptApplication, proto.UserParams{UserID: "guest"}, nil))
	must("lock", owner.Call(ctx, proto.MethodSeatLock, proto.LockParams{SeatIndex: ptr(2), LockSeat: &yes}, nil))
	_, _, err = a.join(ctx, t, secret, "r1", "bad", proto.RoleAudience, nil)
	must("bad joins a", err)
	must("kickOut", owner.Call(ctx, proto.MethodRoomKickOut, proto.UserParams{UserID: "bad"}, nil))
	waiter, _, err := a.join(ctx, t, secret, "r1", "waiter", proto.RoleAudience, nil)
	must("waiter joins a", err)
	var applied proto.RequestIDResult
	must("waiter applies", waiter.Call(ctx, proto.MethodSeatApply, map[string]any{"seatIndex": 3}, &applied))

	a.kill(t)
	killed := time.Now()
	var owner2 *signaltest.Conn
	var snap proto.Snapshot
	for {
		owner2, snap, err = b.join(ctx, t, secret, "r1", "owner", proto.RoleOwner, nil)
		if err == nil {
			break
		}
		if !signaltest.IsReason(err, string(proto.ReasonRoomNotFound)) {
			t.Fatalf("owner joining b during the takeover: %v", err)
		}
		if time.Since(killed) > 5*time.Second {
			t.Fatalf("the room is not hosted again 5 s after its node was killed: %v", err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Logf("room hosted again %v after SIGKILL", time.Since(killed).Round(time.Millisecond))

	if u := snap.Seats[1].User; u == nil || u.UserID != "guest" {
		t.Fatalf("seat 1 after the takeover: %+v", snap.Seats[1])
	}
	if !snap.Seats[2].Locked {
		t.Fatalf("seat 2 lost its lock: %+v", snap.Seats[2])
	}
	if len(snap.Requests) != 1 || snap.Requests[0].RequestID != applied.RequestID {
		t.Fatalf("pending requests after the takeover %+v, want the waiter's %v", snap.Requests, applied.RequestID)
	}
	bad, err := b.connect(ctx, t, secret, "r1", "bad", proto.RoleAudience)
	must("bad dials b", err)
	defer bad.Close()
	if err := bad.Call(ctx, proto.MethodRoomJoin, nil, nil); !signaltest.IsReason(err, string(proto.ReasonBanned)) {
		t.Fatalf("the banned user joining b: %v, want banned", err)
	}
	guest2, gsnap, err := b.join(ctx, t, secret, "r1", "guest", proto.RoleAudience, nil)
	must("guest resumes on b", err)
	if u := gsnap.Seats[1].User; u == nil || u.UserID != "guest" {
		t.Fatalf("the guest did not resume on seat 1: %+v", gsnap.Seats[1])
	}
	waiter2, _, err := b.join(ctx, t, secret, "r1", "waiter", proto.RoleAudience, nil)
	must("waiter resumes on b", err)
	// The waiter's apply was answered on a: sent again it is the same
	// request, not a second one.
	if err := waiter2.Call(ctx, proto.MethodSeatApply, map[string]any{"seatIndex": 3}, nil); !signaltest.IsReason(err, string(proto.ReasonAlreadyApplied)) {
		t.Fatalf("seat.apply re-sent after the takeover: %v, want already_applied", err)
	}
	must("accept on b", owner2.Call(ctx, proto.MethodSeatAcceptApplication, proto.UserParams{UserID: "waiter"}, nil))
	if _, err := waiter2.Wait(ctx, proto.NoteSeatChanged, nil); err != nil {
		t.Fatal(fmt.Errorf("the waiter hears its seat on b: %w", err))
	}

	// Media again after the takeover: the guest publishes on b, a viewer
	// that joins through b receives it on seat 1's slot.
	pub := signaltest.NewPublisher(t)
	var pubRes proto.SDPResult
	must("guest publishes on b", guest2.Call(ctx, proto.MethodRTCPublish, proto.SDPParams{SDP: pub.Offer}, &pubRes))
	pub.Start(t, pubRes.SDP)
	viewer, _, err := b.join(ctx, t, secret, "r1", "viewer", proto.RoleAudience, nil)
	must("viewer joins b", err)
	v := signaltest.NewViewer(t, 4)
	var sub proto.SubscribeResult
	must("viewer subscribes", viewer.Call(ctx, proto.MethodRTCSubscribe, proto.SDPParams{SDP: v.Offer}, &sub))
	v.Answer(t, sub.SDP)
	mid := ""
	for _, sl := range sub.Slots {
		if sl.SeatIndex == 1 && sl.Kind == "audio" {
			mid = sl.Mid
		}
	}
	for v.Count(mid) < 10 {
		if ctx.Err() != nil {
			t.Fatalf("the viewer got %d packets of the guest after the takeover", v.Count(mid))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// clusterSecret is a fresh random --secret, hex-encoded, shared by the
// nodes of one process test.
func clusterSecret(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(key)
}
