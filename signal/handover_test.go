package signal_test

import (
	"testing"

	"github.com/seatsfu/seatsfu/internal/redistest"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// TestClusterJoinFindsItsHost: a socket that reached node b while nobody
// hosted its room is answered by b (room_not_found); once the owner has
// opened the room on node a, the same socket's next room.join is handed to
// a over the link (PROTOCOL.md §12): a answers it, and a request written
// right behind the join, before its answer, is served there too.
func TestClusterJoinFindsItsHost(t *testing.T) {
	rd := redistest.Start(t)
	secret := newSecret(t)
	a := clusterNode(t, rd, secret)
	b := clusterNode(t, rd, secret)

	early := dial(t, b, "r1", "ann", proto.RoleAudience)
	if err := early.Call(testCtx(t), proto.MethodRoomJoin, nil, nil); !signaltest.IsReason(err, "room_not_found") {
		t.Fatalf("joining a room nobody hosts: %v, want room_not_found", err)
	}
	if got := gaugeValue(t, b, "seatsfu_cluster_relayed_sockets"); got != 0 {
		t.Fatalf("node b relays %v sockets before the room exists", got)
	}

	owner, _ := join(t, a, "r1", "owner", proto.RoleOwner, nil)
	if err := early.Send(testCtx(t), []byte(`{"jsonrpc":"2.0","id":"j","method":"room.join","params":{}}`)); err != nil {
		t.Fatal(err)
	}
	call(t, early, proto.MethodRoomSendMessage, proto.MessageParams{Text: ptr("from b")}, nil)
	wait(t, owner, proto.NoteRoomMessage, messageFrom("from b"))
	if got := gaugeValue(t, b, "seatsfu_cluster_relayed_sockets"); got != 1 {
		t.Fatalf("node b relays %v sockets after the join, want 1", got)
	}
	if got := a.RoomState(t, "r1").Members; got != 2 {
		t.Fatalf("the host counts %d members, want 2", got)
	}
	call(t, owner, proto.MethodRoomSendMessage, proto.MessageParams{Text: ptr("to b")}, nil)
	wait(t, early, proto.NoteRoomMessage, messageFrom("to b"))

	// The handed-over socket ends like a relayed one.
	early.Close()
	eventually(t, "node b done with the socket", func() bool { return gaugeValue(t, b, "seatsfu_cluster_relayed_sockets") == 0 })
}
