package main

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/internal/redistest"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// TestCohostSurvivesSIGKILL: three seatsfu processes, one Redis (PROTOCOL.md
// §10 × §12). Room A (node a) co-hosts with room B (node b); b is
// SIGKILLed. B is hosted again elsewhere and the relation follows it: B's
// owner, back through node c, sees [A B], and A's owner hears of no
// change. Then a room on c co-hosts with a room of node a, whose
// controller decides; a is SIGKILLed: the room on c is told the
// connection ended (cohost.changed []) once a leaves the registry.
func TestCohostSurvivesSIGKILL(t *testing.T) {
	rd := redistest.Start(t)
	secret := clusterSecret(t)
	a := startNode(t, rd.URL(), secret)
	b := startNode(t, rd.URL(), secret)
	c := startNode(t, rd.URL(), secret)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	changedTo := func(want ...string) func(json.RawMessage) bool {
		return func(p json.RawMessage) bool {
			var v proto.CohostChanged
			if json.Unmarshal(p, &v) != nil {
				return false
			}
			got := []string{}
			for _, r := range v.Rooms {
				got = append(got, r.RoomID)
			}
			if want == nil {
				want = []string{}
			}
			return reflect.DeepEqual(got, want)
		}
	}
	// connect: from's owner asks to's, to's accepts (retrying while the
	// asking node does not know the other yet).
	connect := func(from, to *signaltest.Conn, toRoom string) {
		t.Helper()
		var res proto.CohostRequestResult
		for {
			err := from.Call(ctx, proto.MethodCohostRequest, map[string]any{"roomId": toRoom}, &res)
			if err == nil {
				break
			}
			if !signaltest.IsReason(err, string(proto.ReasonOverloaded)) || ctx.Err() != nil {
				t.Fatalf("cohost.request: %v", err)
			}
			time.Sleep(25 * time.Millisecond)
		}
		_, err := to.Wait(ctx, proto.NoteCohostRequestReceived, nil)
		must("the request arrives", err)
		must("accept", to.Call(ctx, proto.MethodCohostAccept, map[string]any{"requestId": res.RequestID}, nil))
	}

	oa, _, err := a.join(ctx, t, secret, "A", "own-A", proto.RoleOwner, nil)
	must("A's owner joins a", err)
	ob, _, err := b.join(ctx, t, secret, "B", "own-B", proto.RoleOwner, nil)
	must("B's owner joins b", err)
	connect(oa, ob, "B")
	_, err = oa.Wait(ctx, proto.NoteCohostChanged, changedTo("A", "B"))
	must("A's owner hears the connection", err)
	heard := oa.Count(proto.NoteCohostChanged)

	b.kill(t)
	killed := time.Now()
	var ob2 *signaltest.Conn
	var snap struct {
		Cohost []proto.CohostRoom `json:"cohost"`
	}
	for {
		cn, err := c.connect(ctx, t, secret, "B", "own-B", proto.RoleOwner)
		must("B's owner dials c", err)
		err = cn.Call(ctx, proto.MethodRoomJoin, nil, &snap)
		if err == nil {
			ob2 = cn
			break
		}
		cn.Close()
		if !signaltest.IsReason(err, string(proto.ReasonRoomNotFound)) || ctx.Err() != nil {
			t.Fatalf("B's owner joining through c during the takeover: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer ob2.Close()
	t.Logf("B hosted again %v after SIGKILL", time.Since(killed).Round(time.Millisecond))
	if len(snap.Cohost) != 2 {
		// Joined before the relation reached B's new node: it comes as
		// a notification.
		_, err := ob2.Wait(ctx, proto.NoteCohostChanged, changedTo("A", "B"))
		must("B's owner hears the relation after the takeover", err)
	}
	t.Logf("the relation followed B %v after SIGKILL", time.Since(killed).Round(time.Millisecond))
	if n := oa.Count(proto.NoteCohostChanged); n != heard {
		t.Fatalf("A's owner heard %d cohost.changed while B moved", n-heard)
	}

	// The deciding node dies: D (on a) asked E (on c).
	od, _, err := a.join(ctx, t, secret, "D", "own-D", proto.RoleOwner, nil)
	must("D's owner joins a", err)
	oe, _, err := c.join(ctx, t, secret, "E", "own-E", proto.RoleOwner, nil)
	must("E's owner joins c", err)
	connect(od, oe, "E")
	_, err = oe.Wait(ctx, proto.NoteCohostChanged, changedTo("D", "E"))
	must("E's owner hears the connection", err)
	a.kill(t)
	killed = time.Now()
	_, err = oe.Wait(ctx, proto.NoteCohostChanged, changedTo())
	must("E's owner hears the connection end", err)
	t.Logf("E's owner told the connection ended %v after its deciding node's SIGKILL", time.Since(killed).Round(time.Millisecond))
	var left struct {
		Cohost []proto.CohostRoom `json:"cohost"`
	}
	late, err := c.connect(ctx, t, secret, "E", "late", proto.RoleAudience)
	must("a member dials c", err)
	defer late.Close()
	must("a member joins E", late.Call(ctx, proto.MethodRoomJoin, nil, &left))
	if len(left.Cohost) != 0 {
		t.Fatalf("E still shows the connection %v", left.Cohost)
	}
}
