package signal

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/seatsfu/seatsfu/internal/cluster"
	"github.com/seatsfu/seatsfu/internal/nodelink"
	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// edgeFor is a relayed session of user with no link and no client: the
// test plays the host (from) and reads what would reach the client.
func edgeFor(t *testing.T, user seat.User) (*edgeSession, *Server, *bytes.Buffer) {
	srv := unjoinedSession(t).srv
	srv.cfg.MaxMembers = 100
	var logs bytes.Buffer
	srv.log = slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	lk := &links{c: &clusterEdge{srv: srv}, ctx: ctx, buffer: DefaultLinkBuffer, edges: map[string]*edgeSession{}}
	e := lk.newEdge("r", user, cluster.NodeInfo{ID: "a"}, nil)
	t.Cleanup(func() { lk.dropEdge(e) })
	return e, srv, &logs
}

// from sends e the host's next message, as the link's reader would.
func from(t *testing.T, e *edgeSession, text string) {
	t.Helper()
	p, err := json.Marshal(nodelink.Msg{Seq: e.st.Got() + 1, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	e.frame(nil, nodelink.Frame{Session: e.st.ID(), Kind: nodelink.KindMsg, Payload: p})
}

func roleChanged(t *testing.T, user string, role seat.Role) string {
	b, err := encodeNotification(proto.NoteRoomRoleChanged, proto.RoleChanged{User: proto.User{UserID: user, Role: proto.Role(role)}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A relayed client that stops reading is dropped as a direct socket is:
// at its role's bound, cut without a close frame (the host told 1001),
// said once and counted once as out_queue — and the link's reader, which
// delivers, never waits for it.
func TestEdgeQueueFullCutsTheClientOnce(t *testing.T) {
	e, srv, logs := edgeFor(t, seat.User{UserID: "ann", Role: seat.RoleAudience})
	for range outQueue {
		from(t, e, `{"jsonrpc":"2.0","method":"seat.changed","params":{}}`)
	}
	if e.ctx.Err() != nil {
		t.Fatalf("a viewer's relay ended at %d frames, its bound", e.out.len())
	}
	for range 3 {
		from(t, e, `{"jsonrpc":"2.0","method":"seat.changed","params":{}}`)
	}
	want := edgeEnd{code: websocket.StatusGoingAway, reason: "too slow", tellHost: true, cut: true}
	if e.ctx.Err() == nil || e.end != want || e.drop.Err() == nil {
		t.Fatalf("a viewer's relay past its bound: ended %v, %+v, client cut %v; want %+v, cut", e.ctx.Err() != nil, e.end, e.drop.Err() != nil, want)
	}
	if n := testutil.ToFloat64(srv.caps.refusals.WithLabelValues(limitOutQueue)); n != 1 {
		t.Fatalf("seatsfu_limit_refusals_total{limit=out_queue} = %v, want 1", n)
	}
	if n := strings.Count(logs.String(), "outbound queue full"); n != 1 {
		t.Fatalf("the cut was logged %d times, want once:\n%s", n, logs.String())
	}
}

// The edge bounds a host's client as the host node bounds its socket
// (queueLimitFor): by its token's role, and from room.roleChanged on by the
// role the server API gives it — not by another member's.
func TestEdgeQueueFollowsTheRole(t *testing.T) {
	owner, srv, _ := edgeFor(t, seat.User{UserID: "boss", Role: seat.RoleOwner})
	host := hostQueueLimit(srv.cfg.MaxMembers)
	for range host {
		from(t, owner, `{"jsonrpc":"2.0","method":"room.memberJoined","params":{}}`)
	}
	if owner.ctx.Err() != nil || owner.out.len() != host {
		t.Fatalf("an owner's relay holds %d frames (ended %v), want %d", owner.out.len(), owner.ctx.Err() != nil, host)
	}

	ann, _, _ := edgeFor(t, seat.User{UserID: "ann", Role: seat.RoleAudience})
	from(t, ann, roleChanged(t, "bob", seat.RoleAdmin))
	from(t, ann, roleChanged(t, "ann", seat.RoleAdmin))
	for ann.out.len() < host {
		from(t, ann, `{"jsonrpc":"2.0","method":"room.memberJoined","params":{}}`)
		if ann.ctx.Err() != nil {
			t.Fatalf("a promoted admin's relay ended at %d frames, want %d", ann.out.len(), host)
		}
	}

	bob, _, _ := edgeFor(t, seat.User{UserID: "bob", Role: seat.RoleAdmin})
	from(t, bob, roleChanged(t, "bob", seat.RoleAudience))
	for range outQueue {
		from(t, bob, `{"jsonrpc":"2.0","method":"seat.changed","params":{}}`)
	}
	if bob.ctx.Err() == nil {
		t.Fatalf("a demoted admin's relay holds %d frames, past a viewer's %d", bob.out.len(), outQueue)
	}
}
