package client_test

import (
	"testing"

	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// Room metadata through the SDK: set at creation, in the snapshot, changed
// with UpdateRoom and announced with room.updated.
func TestRoomMetadataThroughTheSDK(t *testing.T) {
	e := newEnv(t)
	room := e.newRoom()
	owner := e.dial(room, "olive", proto.RoleOwner)
	snap, err := owner.Join(ctxT(t), &client.CreateOptions{Title: "Night", Metadata: `{"k":1}`})
	must(t, "join", err)
	if snap.Room.Title != "Night" || snap.Room.Metadata != `{"k":1}` || snap.Room.CreatedAt == 0 {
		t.Fatalf("snapshot room %+v", snap.Room)
	}
	ann := e.join(room, "ann", proto.RoleAudience, nil)
	title := "Day"
	must(t, "UpdateRoom", owner.UpdateRoom(ctxT(t), proto.RoomUpdateParams{Title: &title}))
	u := next[proto.RoomUpdated](t, ann, client.MethodRoomUpdated)
	if u.Title != "Day" || u.Metadata != `{"k":1}` {
		t.Fatalf("room.updated %+v", u)
	}
	if err := ann.UpdateRoom(ctxT(t), proto.RoomUpdateParams{Title: &title}); err == nil {
		t.Fatal("audience updated the room")
	}
}
