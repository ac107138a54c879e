package signal

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// queued drains what a socket-less session would have written: the
// notification methods, and "close" for a close instruction.
func queued(s *session) []string {
	var out []string
	for {
		f, ok := s.out.pop()
		if !ok {
			return out
		}
		if f.close {
			out = append(out, "close")
			continue
		}
		var n struct{ Method string }
		_ = json.Unmarshal(f.data, &n)
		out = append(out, n.Method)
	}
}

func member(t *testing.T, h *roomHub, id string, role seat.Role) *session {
	s := unjoinedSession(t)
	s.srv = h.srv
	s.user = seat.User{UserID: id, Role: role}
	h.attach(s)
	return s
}

func TestHubRoutesByAudience(t *testing.T) {
	h := newHub(unjoinedSession(t).srv, "r")
	owner := member(t, h, "boss", seat.RoleOwner)
	admin := member(t, h, "adam", seat.RoleAdmin)
	ann := member(t, h, "ann", seat.RoleAudience)
	bob := member(t, h, "bob", seat.RoleAudience)

	h.Notify(nil, []seat.Delivery{
		{To: seat.Everyone, Event: seat.SeatChanged{}},
		{To: seat.Hosts, Except: "adam", Event: seat.ApplicationProcessedByOtherHost{}},
		{To: seat.OneUser, UserID: "ann", Event: seat.InvitationReceived{}},
		{To: seat.Everyone, Except: "bob", Event: proto.RoomMessage{}},
		{To: seat.Internal, Event: seat.RequestEnded{Request: seat.Request{Kind: seat.KindApply}, Outcome: seat.OutcomeTimeout}},
		{To: seat.OneUser, UserID: "nobody", Event: seat.SeatKicked{}},
	})
	want := map[*session]string{
		owner: "seat.changed seat.applicationProcessedByOtherHost room.message",
		admin: "seat.changed room.message",
		ann:   "seat.changed seat.invitationReceived room.message",
		bob:   "seat.changed",
	}
	for s, w := range want {
		if got := strings.Join(queued(s), " "); got != w {
			t.Errorf("%s got %q, want %q", s.user.UserID, got, w)
		}
	}
}

func TestHubReplaceKickEnd(t *testing.T) {
	h := newHub(unjoinedSession(t).srv, "r")
	owner := member(t, h, "boss", seat.RoleOwner)
	first := member(t, h, "ann", seat.RoleAudience)
	second := member(t, h, "ann", seat.RoleAudience)
	if got := strings.Join(queued(first), " "); got != "session.replaced close" || h.speaksFor(first) || !h.speaksFor(second) {
		t.Fatalf("replaced socket got %q", got)
	}
	if h.detach(first) {
		t.Fatal("a replaced socket detached its successor")
	}

	h.Notify(nil, []seat.Delivery{{To: seat.OneUser, UserID: "ann", Event: seat.KickedOut{}}})
	if got := strings.Join(queued(second), " "); got != "room.kickedOut close" || h.speaksFor(second) {
		t.Fatalf("kicked socket got %q", got)
	}
	h.Notify(nil, []seat.Delivery{{To: seat.Everyone, Event: seat.RoomEnded{Reason: seat.EndedByOwner}}})
	if got := strings.Join(queued(owner), " "); got != "room.ended close" || h.speaksFor(owner) {
		t.Fatalf("owner got %q at the end", got)
	}
}
