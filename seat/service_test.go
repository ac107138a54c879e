package seat

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func strp(s string) *string { return &s }

func TestMetadataAtCreationAndUpdate(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Meta = Meta{Title: "hello", Cover: "https://img.example/c.png"} })
	info := f.room.Info()
	if info.Title != "hello" || info.Cover != "https://img.example/c.png" || info.CreatedAt != f.clock.now.UnixMilli() {
		t.Fatalf("info = %+v", info)
	}
	ds, err := f.room.Update(adm1.UserID, MetaPatch{Metadata: strp(`{"tag":"music"}`)})
	f.must(err)
	expect(t, f.room, ds, toAll(RoomUpdated{Title: "hello", Cover: "https://img.example/c.png", Metadata: `{"tag":"music"}`}))
	f.refuse(ErrPermission, func() ([]Delivery, error) { return f.room.Update(aud1.UserID, MetaPatch{Title: strp("x")}) })
	for _, bad := range []MetaPatch{
		{Title: strp(strings.Repeat("字", MaxTitle+1))},
		{Cover: strp("javascript:alert(1)")},
		{Cover: strp("https://x.example/" + strings.Repeat("a", MaxCover))},
		{Metadata: strp(strings.Repeat("m", MaxMetadata+1))},
	} {
		f.refuse(ErrInvalidParams, func() ([]Delivery, error) { return f.room.ServiceUpdate(bad) })
	}
	if f.room.Meta().Metadata != `{"tag":"music"}` {
		t.Fatalf("a refused update changed the metadata: %+v", f.room.Meta())
	}
	if _, err := New(Config{RoomID: "r", MaxSeats: 2, Owner: owner, Clock: f.clock, Meta: Meta{Cover: "nope"}}); !errors.Is(err, ErrInvalidParams) {
		t.Fatalf("New with a bad cover: %v", err)
	}
}

func TestServiceRoleChangeLetsAudienceAnswerAndOutlivesRejoin(t *testing.T) {
	f := newFixture(t)
	_, _, err := f.room.Apply(aud2.UserID, NoSeat, 0, "")
	f.must(err)
	if _, _, err := f.room.AcceptApplication(aud1.UserID, aud2.UserID); !errors.Is(err, ErrPermission) {
		t.Fatalf("audience accepted: %v", err)
	}
	ds, err := f.room.SetRole(aud1.UserID, RoleAdmin)
	f.must(err)
	promoted := aud1
	promoted.Role = RoleAdmin
	expect(t, f.room, ds, toAll(RoleChanged{User: promoted}))
	if _, _, err := f.room.AcceptApplication(aud1.UserID, aud2.UserID); err != nil {
		t.Fatalf("promoted admin could not accept: %v", err)
	}
	// Seated now: demoting aud2? It is audience; promote it and its seat shows the role.
	ds, err = f.room.SetRole(aud2.UserID, RoleAdmin)
	f.must(err)
	if len(ds) != 2 || !isSeatChanged(ds[1].Event) {
		t.Fatalf("a seated member's role change: %v", ds)
	}
	if s := f.room.Seats()[f.room.SeatOf(aud2.UserID)]; s.User.Role != RoleAdmin {
		t.Fatalf("seat shows %+v", s.User)
	}
	// The grant outlives a leave: rejoining with the old audience token.
	_, err = f.room.Leave(aud1.UserID)
	f.must(err)
	snap, _, err := f.room.Join(aud1)
	f.must(err)
	if snap.Self.Role != RoleAdmin {
		t.Fatalf("rejoined as %s, want admin", snap.Self.Role)
	}
	if ds, err := f.room.SetRole(aud1.UserID, RoleAdmin); err != nil || ds != nil {
		t.Fatalf("same role again: %v %v", ds, err)
	}
	f.refuse(ErrPermission, func() ([]Delivery, error) { return f.room.SetRole(owner.UserID, RoleAudience) })
	f.refuse(ErrInvalidParams, func() ([]Delivery, error) { return f.room.SetRole(aud3.UserID, RoleOwner) })
	f.refuse(ErrNotJoined, func() ([]Delivery, error) { return f.room.SetRole("stranger", RoleAdmin) })
}

func TestServiceKickOutUnbanAndChatMute(t *testing.T) {
	f := newFixture(t)
	ds, err := f.room.ServiceKickOut(aud1.UserID, true)
	f.must(err)
	if ko, ok := ds[0].Event.(KickedOut); !ok || ko.By != nil {
		t.Fatalf("first delivery %+v, want KickedOut by the service", ds[0])
	}
	if _, _, err := f.room.Join(aud1); !errors.Is(err, ErrBanned) {
		t.Fatalf("banned rejoin: %v", err)
	}
	if lifted, _ := f.room.Unban(aud1.UserID); !lifted {
		t.Fatal("Unban of a banned user reported false")
	}
	if lifted, _ := f.room.Unban(aud1.UserID); lifted {
		t.Fatal("second Unban reported true")
	}
	f.join(aud1)
	// Without ban the user may come straight back.
	_, err = f.room.ServiceKickOut(aud2.UserID, false)
	f.must(err)
	f.join(aud2)
	f.refuse(ErrPermission, func() ([]Delivery, error) { return f.room.ServiceKickOut(owner.UserID, true) })

	f.must(f.room.SetChatMuted("anyone", true))
	if !f.room.ChatMuted("anyone") {
		t.Fatal("mute did not stick")
	}
	f.must(f.room.SetChatMuted("anyone", false))
	if f.room.ChatMuted("anyone") {
		t.Fatal("unmute did not stick")
	}
}

func TestServiceSeatKickAndLock(t *testing.T) {
	f := newFixture(t)
	idx, _, err := f.room.Take(adm1.UserID, 2)
	f.must(err)
	ds, err := f.room.ServiceKickSeat(idx)
	f.must(err)
	expect(t, f.room, ds,
		toUser(adm1.UserID, SeatKicked{SeatIndex: 2}),
		changed(nil, []SeatLeave{{User: adm1, SeatIndex: 2, Reason: LeftKicked}}))
	f.refuse(ErrNotSeated, func() ([]Delivery, error) { return f.room.ServiceKickSeat(2) })
	f.refuse(ErrSeatIndexInvalid, func() ([]Delivery, error) { return f.room.ServiceKickSeat(0) })
	_, _, err = f.room.Take(adm1.UserID, 3)
	f.must(err)
	ds, err = f.room.ServiceLock(3, boolp(true), nil, nil)
	f.must(err)
	expect(t, f.room, ds,
		toUser(adm1.UserID, SeatKicked{SeatIndex: 3}),
		changed(nil, []SeatLeave{{User: adm1, SeatIndex: 3, Reason: LeftLocked}}))
	if !f.room.Seats()[3].Locked {
		t.Fatal("seat 3 not locked")
	}
	ds = f.room.Shutdown(EndedByService)
	if last := ds[len(ds)-1].Event; last != (RoomEnded{Reason: EndedByService}) {
		t.Fatalf("last delivery %+v", last)
	}
	if _, err := f.room.ServiceLock(1, boolp(true), nil, nil); !errors.Is(err, ErrRoomNotFound) {
		t.Fatalf("lock after end: %v", err)
	}
}

func isSeatChanged(e Event) bool { _, ok := e.(SeatChanged); return ok }

// What the server API set survives an export and a restore (a cluster
// takeover, PROTOCOL.md §12): metadata, opening time, granted roles (a
// rejoin still gets them) and chat mutes; a state that grants the owner a
// role, or an unknown one, is refused.
func TestServiceStateSurvivesRestore(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Meta = Meta{Title: "T", Metadata: "m"} })
	_, err := f.room.SetRole(aud1.UserID, RoleAdmin)
	f.must(err)
	f.must(f.room.SetChatMuted("troll", true))
	f.clock.Advance(time.Minute)
	st, ok := f.room.Export()
	if !ok {
		t.Fatal("no export")
	}
	r, err := restoreLike(f.room, st)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := r.Export(); !reflect.DeepEqual(again, st) {
		t.Fatalf("restored room exports\n%+v\nnot\n%+v", again, st)
	}
	if r.Meta() != f.room.Meta() || r.Info().CreatedAt != f.room.Info().CreatedAt || !r.ChatMuted("troll") {
		t.Fatalf("restored room: meta %+v created %d muted %v", r.Meta(), r.Info().CreatedAt, r.ChatMuted("troll"))
	}
	_, err = r.Leave(aud1.UserID)
	f.must(err)
	snap, _, err := r.Join(aud1)
	f.must(err)
	if snap.Self.Role != RoleAdmin {
		t.Fatalf("after the restore a rejoin is %s, want admin", snap.Self.Role)
	}
	for _, bad := range [][]StateRole{{{UserID: owner.UserID, Role: RoleAdmin}}, {{UserID: "x", Role: RoleOwner}}, {{Role: RoleAdmin}}} {
		b := st
		b.Roles = bad
		if _, err := restoreLike(f.room, b); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("roles %+v restored: %v", bad, err)
		}
	}
	b := st
	b.Meta.Cover = "javascript:x"
	if _, err := restoreLike(f.room, b); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("a bad cover restored: %v", err)
	}
}
