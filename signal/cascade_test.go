package signal_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/internal/redistest"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
	"github.com/seatsfu/seatsfu/signal/token"
)

// watchThrough joins user through node (relayed to the room's host) and
// subscribes it with maxSeats pairs, which node serves from its cascade.
func watchThrough(t *testing.T, node *signaltest.Env, room, user string, pairs int) (*signaltest.Conn, *signaltest.Viewer, proto.SubscribeResult) {
	t.Helper()
	conn := relayedJoin(t, node, room, user, proto.RoleAudience)
	v := signaltest.NewViewer(t, pairs)
	var res proto.SubscribeResult
	call(t, conn, proto.MethodRTCSubscribe, proto.SDPParams{SDP: v.Offer}, &res)
	v.Answer(t, res.SDP)
	return conn, v, res
}

// TestCascadeIsNoMember: a node cascading a room is a subscriber of the
// host's media, not a member of the room: the host's member list, member
// count and member notifications show the people only — the relayed
// viewer, never "node.<id>".
func TestCascadeIsNoMember(t *testing.T) {
	rd := redistest.Start(t)
	secret := newSecret(t)
	a := clusterNode(t, rd, secret)
	b := clusterNode(t, rd, secret)
	owner, _ := join(t, a, "r1", "owner", proto.RoleOwner, map[string]any{"create": map[string]any{"maxSeats": 2}})
	watchThrough(t, b, "r1", "watcher", 2)
	if b.SFU.Room("cascade:r1") == nil {
		t.Fatal("node b serves its viewer without a cascade: the test would prove nothing")
	}
	eventually(t, "the host serving b's cascade", func() bool { return a.SFU.Room("r1").ViewerCount() == 1 })
	if h, e := labelledGauge(t, a, "seatsfu_cascades", "role", "host"), labelledGauge(t, b, "seatsfu_cascades", "role", "edge"); h != 1 || e != 1 {
		t.Errorf("seatsfu_cascades: host %v on a, edge %v on b; want 1 and 1", h, e)
	}

	late, snap := join(t, a, "r1", "late", proto.RoleAudience, nil)
	if snap.Room.MemberCount != 3 {
		t.Errorf("a late joiner sees %d members, want 3 (owner, watcher, late)", snap.Room.MemberCount)
	}
	if ids := memberIDs(t, late); len(ids) != 3 || !slices.Contains(ids, "watcher") {
		t.Errorf("room.members lists %v, want owner, watcher and late", ids)
	}
	joined := func() []string {
		var ids []string
		for _, n := range owner.Notes() {
			if n.Method != proto.NoteMemberJoined {
				continue
			}
			var p struct{ User proto.User }
			_ = json.Unmarshal(n.Params, &p)
			ids = append(ids, p.User.UserID)
		}
		return ids
	}
	eventually(t, "the owner hearing late join", func() bool { return slices.Contains(joined(), "late") })
	for _, id := range joined() {
		if strings.HasPrefix(id, "node.") {
			t.Errorf("the owner heard %s join: the cascade shows as a member (all joins: %v)", id, joined())
		}
	}
}

// labelledGauge reads one labelled gauge of env's registry.
func labelledGauge(t *testing.T, env *signaltest.Env, name, label, value string) float64 {
	t.Helper()
	mfs, err := env.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if mf.GetName() == name && lp.GetName() == label && lp.GetValue() == value {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no metric %s{%s=%q}", name, label, value)
	return 0
}

// TestCascadeEndpointRefuses: /v1/cascade opens only for a node's token
// (one minted with the cluster's secret for "node.<id>") and only for a
// room hosted here.
func TestCascadeEndpointRefuses(t *testing.T) {
	rd := redistest.Start(t)
	secret := newSecret(t)
	a := clusterNode(t, rd, secret)
	join(t, a, "r1", "owner", proto.RoleOwner, nil)
	mint := func(user, room string) string {
		tok, err := token.Mint(secret, token.Identity{UserID: user, Room: room, Role: proto.RoleAudience}, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for _, c := range []struct {
		name, tok string
		want      int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"a person's token", mint("ann", "r1"), http.StatusUnauthorized},
		{"a room not hosted here", mint("node.x", "r2"), http.StatusNotFound},
	} {
		req, err := http.NewRequest(http.MethodGet, a.URL+"/v1/cascade", nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.tok != "" {
			req.Header.Set("Authorization", "Bearer "+c.tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: HTTP %d, want %d", c.name, resp.StatusCode, c.want)
		}
	}
}

// TestCascadeCohostSlotsAsOnTheHost: a relayed viewer served from the
// mirror sees and addresses its co-host slots as a direct viewer does
// (rtc.quality names them by cohostIndex; rtc.setQuality checks it), though
// their media does not cross nodes yet.
func TestCascadeCohostSlotsAsOnTheHost(t *testing.T) {
	rd := redistest.Start(t)
	secret := newSecret(t)
	a := clusterNode(t, rd, secret)
	b := clusterNode(t, rd, secret)
	join(t, a, "r1", "owner", proto.RoleOwner, map[string]any{"create": map[string]any{"maxSeats": 2}})
	w, _, _ := watchThrough(t, b, "r1", "w", 3) // two seats and co-host slot 1
	if b.SFU.Room("cascade:r1") == nil {
		t.Fatal("node b serves its viewer without a cascade: the test would prove nothing")
	}
	wait(t, w, proto.NoteRTCQuality, func(p json.RawMessage) bool {
		var n proto.QualityNote
		_ = json.Unmarshal(p, &n)
		return slices.Contains(n.Slots, proto.SlotQuality{SeatIndex: -1, CohostIndex: 1, Layer: proto.LayerNone})
	})
	call(t, w, proto.MethodRTCSetQuality, map[string]any{"cohostIndex": 1, "quality": "low"}, nil)
	wantReason(t, w, proto.MethodRTCSetQuality, map[string]any{"cohostIndex": 0, "quality": "low"}, "invalid_params")
	wantReason(t, w, proto.MethodRTCSetQuality, map[string]any{"seatIndex": 0, "cohostIndex": 1, "quality": "low"}, "invalid_params")
}
