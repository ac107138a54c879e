package signal

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// Every refusal the rules, the media server and the edge make must reach
// the wire with a code of its own: a reason proto does not know would go
// out as internal_error's code.
func TestEveryRefusalHasACode(t *testing.T) {
	refusals := []*seat.Error{
		seat.ErrInvalidParams, seat.ErrNotJoined, seat.ErrRoomNotFound, seat.ErrRoomFull, seat.ErrBanned,
		seat.ErrPermission, seat.ErrRequestConflict, seat.ErrSeatLocked, seat.ErrSeatOccupied,
		seat.ErrAlreadyApplied, seat.ErrAlreadySeated, seat.ErrRequestNotFound, seat.ErrSeatsFull,
		seat.ErrNotSeated, seat.ErrSeatIndexInvalid, seat.ErrOwnerCannotLeave,
		sfu.ErrPublishForbidden, sfu.ErrBadSDP, sfu.ErrUnsupportedCodec, sfu.ErrRoomEnded,
		errParse, errInvalidRequest, errNoMethod, errInternal, errRateLimited, errAlreadyJoined,
	}
	for _, e := range refusals {
		if !slices.Contains(proto.Reasons(), proto.Reason(e.Reason)) {
			t.Errorf("%q (%s) has no code in signal/proto", e.Reason, e.Message)
		}
	}
	var frame struct {
		Error proto.Error `json:"error"`
	}
	if err := json.Unmarshal(encodeError(json.RawMessage(`1`), seat.ErrSeatLocked), &frame); err != nil {
		t.Fatal(err)
	}
	if frame.Error.Code != 100200 || frame.Error.Data.Reason != proto.ReasonSeatLocked {
		t.Fatalf("seat_locked went out as %+v", frame.Error)
	}
}

// The end reasons seat decides are the strings the protocol documents.
func TestSeatReasonsAreTheWires(t *testing.T) {
	pairs := [][2]string{
		{seat.LeftLeft, proto.LeftLeft}, {seat.LeftKicked, proto.LeftKicked}, {seat.LeftLocked, proto.LeftLocked},
		{seat.LeftDisconnected, proto.LeftDisconnected}, {seat.LeftMoved, proto.LeftMoved},
		{seat.LeftRoomEnded, proto.LeftRoomEnded},
		{seat.ReasonCancelled, proto.RequestCancelled}, {seat.ReasonTimeout, proto.RequestTimeout},
		{seat.ReasonLeft, proto.RequestLeft}, {seat.ReasonAlreadySeated, proto.RequestAlreadySeated},
		{seat.EndedByOwner, proto.EndedByOwner}, {seat.OwnerTimeout, proto.OwnerTimeout},
		{seat.ServerShutdown, proto.ServerShutdown},
		{string(seat.RoleOwner), string(proto.RoleOwner)}, {string(seat.RoleAdmin), string(proto.RoleAdmin)},
		{string(seat.RoleAudience), string(proto.RoleAudience)},
		{string(seat.ModeApply), string(proto.ModeApply)}, {string(seat.ModeFree), string(proto.ModeFree)},
		{string(seat.KindAudio), string(proto.KindAudio)}, {string(seat.KindVideo), string(proto.KindVideo)},
		{string(seat.KindApply), string(proto.KindApply)}, {string(seat.KindInvite), string(proto.KindInvite)},
		{string(seat.DeviceOn), string(proto.DeviceOn)}, {string(seat.DeviceOff), string(proto.DeviceOff)},
		{string(seat.DeviceClosedByAdmin), string(proto.DeviceClosedByAdmin)},
	}
	for _, p := range pairs {
		if p[0] != p[1] {
			t.Errorf("seat says %q where the wire says %q", p[0], p[1])
		}
	}
	if seat.NoSeat != proto.NoSeat {
		t.Errorf("seat.NoSeat %d, proto.NoSeat %d", seat.NoSeat, proto.NoSeat)
	}
}

// Every event seat sends a member has a wire form with a notification name
// of proto, and a body with the same fields as the domain event: a field
// added to one side and not the other fails here.
func TestEverySeatEventHasAWireForm(t *testing.T) {
	events := []seat.Event{
		seat.SeatChanged{}, seat.RoomEnded{}, seat.MemberJoined{}, seat.MemberLeft{}, seat.KickedOut{},
		seat.ApplicationReceived{}, seat.ApplicationCancelled{}, seat.ApplicationProcessedByOtherHost{},
		seat.InvitationResponded{}, seat.InvitationNoResponse{}, seat.ApplicationResponded{},
		seat.ApplicationNoResponse{}, seat.InvitationReceived{}, seat.InvitationCancelled{}, seat.SeatKicked{},
		seat.RoomUpdated{}, seat.RoleChanged{},
	}
	seen := map[string]bool{}
	for _, ev := range events {
		method, body, ok := wireNote(ev)
		if !ok || method == "" || seen[method] {
			t.Errorf("%T: wire form %q ok=%v (seen before: %v)", ev, method, ok, seen[method])
			continue
		}
		seen[method] = true
		sameFields(t, reflect.TypeOf(ev), reflect.TypeOf(body))
	}
	if _, _, ok := wireNote(seat.RequestEnded{}); ok {
		t.Error("RequestEnded is bookkeeping, yet it has a wire form")
	}
	for _, pair := range [][2]any{{seat.User{}, proto.User{}}, {seat.Seat{}, proto.Seat{}},
		{seat.Request{}, proto.Request{}}, {seat.Info{}, proto.RoomInfo{}}} {
		sameFields(t, reflect.TypeOf(pair[0]), reflect.TypeOf(pair[1]))
	}
	// The snapshot's rtc member is the edge's (its ICE servers), not the room's.
	sameFields(t, reflect.TypeOf(seat.Snapshot{}), reflect.TypeOf(proto.Snapshot{}), "RTC")
}

// sameFields checks that a wire type has exactly its domain type's fields,
// in order, but for the edge's own (edgeOnly).
func sameFields(t *testing.T, domain, wire reflect.Type, edgeOnly ...string) {
	t.Helper()
	names := func(typ reflect.Type) []string {
		var out []string
		for i := range typ.NumField() {
			out = append(out, typ.Field(i).Name)
		}
		return out
	}
	w := slices.DeleteFunc(names(wire), func(n string) bool { return slices.Contains(edgeOnly, n) })
	if d := names(domain); !slices.Equal(d, w) {
		t.Errorf("%v has fields %v, its wire form %v has %v", domain, d, wire, w)
	}
}

// A populated snapshot and seat.changed go out with every field, in the
// protocol's spelling.
func TestWireFormCarriesEveryField(t *testing.T) {
	ann := seat.User{UserID: "ann", Name: "Ann", Avatar: "a.png", Role: seat.RoleAudience}
	boss := seat.User{UserID: "boss", Name: "Boss", Avatar: "b.png", Role: seat.RoleOwner}
	seats := []seat.Seat{{Index: 1, User: &ann, Locked: true, AudioLocked: true, VideoLocked: true,
		Microphone: seat.DeviceClosedByAdmin, Camera: seat.DeviceOn}}
	snap := seat.Snapshot{
		Room: seat.Info{RoomID: "r", MaxSeats: 4, SeatMode: seat.ModeFree, MemberCount: 2,
			Title: "T", Cover: "https://c/x.png", Metadata: "m", CreatedAt: 7},
		Self:     boss,
		Seats:    seats,
		Requests: []seat.Request{{RequestID: "q", Kind: seat.KindInvite, From: boss, To: &ann, SeatIndex: 2, ExtraInfo: "x", ExpiresAt: 9}},
	}
	got, err := json.Marshal(wireSnapshot(snap))
	if err != nil {
		t.Fatal(err)
	}
	const wantSnap = `{"room":{"roomId":"r","maxSeats":4,"seatMode":"free","memberCount":2,"title":"T","cover":"https://c/x.png","metadata":"m","createdAt":7},` +
		`"self":{"userId":"boss","name":"Boss","avatar":"b.png","role":"owner"},` +
		`"seats":[{"index":1,"user":{"userId":"ann","name":"Ann","avatar":"a.png","role":"audience"},"locked":true,"audioLocked":true,"videoLocked":true,"microphone":"closedByAdmin","camera":"on"}],` +
		`"requests":[{"requestId":"q","kind":"invite","from":{"userId":"boss","name":"Boss","avatar":"b.png","role":"owner"},"to":{"userId":"ann","name":"Ann","avatar":"a.png","role":"audience"},"seatIndex":2,"extraInfo":"x","expiresAt":9}]}`
	if string(got) != wantSnap {
		t.Errorf("snapshot\n got  %s\n want %s", got, wantSnap)
	}
	_, body, _ := wireNote(seat.SeatChanged{Seats: seats, Joined: []seat.SeatJoin{{User: ann, SeatIndex: 1}},
		Left: []seat.SeatLeave{{User: boss, SeatIndex: 0, Reason: seat.LeftMoved}}})
	got, err = json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	const wantChanged = `{"seats":[{"index":1,"user":{"userId":"ann","name":"Ann","avatar":"a.png","role":"audience"},"locked":true,"audioLocked":true,"videoLocked":true,"microphone":"closedByAdmin","camera":"on"}],` +
		`"joined":[{"user":{"userId":"ann","name":"Ann","avatar":"a.png","role":"audience"},"seatIndex":1}],` +
		`"left":[{"user":{"userId":"boss","name":"Boss","avatar":"b.png","role":"owner"},"seatIndex":0,"reason":"moved"}]}`
	if string(got) != wantChanged {
		t.Errorf("seat.changed\n got  %s\n want %s", got, wantChanged)
	}
}
