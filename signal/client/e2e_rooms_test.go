package client_test

import (
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/client/service"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/token"
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
	if got := ann.Room(); got.Title != "Day" || got.Metadata != `{"k":1}` {
		t.Fatalf("ann's store has room %+v", got)
	}
	// The server API makes ann an admin: its store follows, and so do its
	// rights.
	svc, _ := token.MintService(e.st.Secret, "backend", time.Hour)
	api, _ := service.New(e.st.URL, svc, nil)
	must(t, "SetRole", api.SetRole(ctxT(t), room, "ann", proto.RoleAdmin))
	next[proto.RoleChanged](t, ann, client.MethodRoleChanged)
	if ann.Self().Role != proto.RoleAdmin {
		t.Fatalf("ann's store says role %s after room.roleChanged", ann.Self().Role)
	}
	must(t, "UpdateRoom as the new admin", ann.UpdateRoom(ctxT(t), proto.RoomUpdateParams{Title: &title}))
}
