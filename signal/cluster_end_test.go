package signal_test

import (
	"errors"
	"testing"

	"github.com/seatsfu/seatsfu/internal/cluster"
	"github.com/seatsfu/seatsfu/internal/redistest"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// TestClusterEndWritesOffTheLock: with Redis slow to write, a room that
// ends stops on its node (its lock released, its media closed) while Redis
// still has it — the write is not made under the room's lock — and its
// members hear room.ended, and the owner its answer, only once Redis has
// forgotten it (PROTOCOL.md §12). Before, the room stayed locked for the
// write: it left the SFU only after Redis had forgotten it.
func TestClusterEndWritesOffTheLock(t *testing.T) {
	rd := redistest.Start(t)
	reader := openStore(t, rd)
	node := clusterNode(t, rd, newSecret(t), patientRedis(t, rd))
	owner, _ := join(t, node, "r1", "owner", proto.RoleOwner, nil)
	guest, _ := join(t, node, "r1", "guest", proto.RoleAudience, nil)

	pauseWrites(t, rd, stallWrites)
	answered := make(chan error, 1)
	go func() { answered <- owner.Call(testCtx(t), proto.MethodRoomEnd, nil, nil) }()
	eventually(t, "the room gone from the SFU", func() bool { return node.SFU.Room("r1") == nil })
	if _, err := reader.Load(testCtx(t), "r1"); err != nil {
		t.Fatalf("the room left the SFU only once Redis had forgotten it (%v): the write was under its lock", err)
	}
	if n := guest.Count(proto.NoteRoomEnded); n != 0 {
		t.Fatal("room.ended went out before Redis forgot the room")
	}
	select {
	case err := <-answered:
		t.Fatalf("room.end answered (%v) before Redis forgot the room", err)
	default:
	}

	if err := <-answered; err != nil {
		t.Fatalf("room.end: %v", err)
	}
	if _, err := reader.Load(testCtx(t), "r1"); !errors.Is(err, cluster.ErrNoState) {
		t.Fatalf("answered room.end, but Redis still has the room: %v", err)
	}
	wait(t, guest, proto.NoteRoomEnded, nil)
}
