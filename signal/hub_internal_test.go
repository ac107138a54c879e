package signal

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

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

// A flash crowd: the owner hears room.memberJoined for each of a full
// room's members, and its socket holds them all while it reads slowly (a
// room's worth over the ordinary bound) — at 256 a burst of 806 viewers
// closed the owner's socket, and its media with it. An audience socket is
// still closed past the ordinary bound, and says so once; an admin
// promoted by the server API gets the host's bound from then on.
func TestHostSocketHoldsAFlashCrowd(t *testing.T) {
	srv := unjoinedSession(t).srv
	srv.cfg.MaxMembers = 1000
	h := newHub(srv, "r")
	owner := member(t, h, "boss", seat.RoleOwner)
	ann := member(t, h, "ann", seat.RoleAudience)
	bob := member(t, h, "bob", seat.RoleAudience)

	for i := range srv.cfg.MaxMembers {
		h.Notify(nil, []seat.Delivery{{To: seat.Hosts, Event: seat.MemberJoined{User: seat.User{UserID: fmt.Sprint("v", i), Role: seat.RoleAudience}}}})
	}
	if owner.ctx.Err() != nil {
		t.Fatal("the owner's socket was closed by a full room's joins")
	}
	if got := queued(owner); len(got) != srv.cfg.MaxMembers || got[0] != proto.NoteMemberJoined || got[len(got)-1] != proto.NoteMemberJoined {
		t.Fatalf("the owner has %d frames queued, want %d room.memberJoined", len(got), srv.cfg.MaxMembers)
	}

	h.Notify(nil, []seat.Delivery{{To: seat.Everyone, Event: seat.RoleChanged{User: seat.User{UserID: "bob", Role: seat.RoleAdmin}}}})
	for range outQueue + 1 {
		h.Notify(nil, []seat.Delivery{{To: seat.Everyone, Event: seat.SeatChanged{}}})
	}
	if ann.ctx.Err() == nil {
		t.Fatalf("an audience socket holding %d frames was not closed", ann.out.len())
	}
	for who, s := range map[string]*session{"the owner": owner, "the promoted admin": bob} {
		if s.ctx.Err() != nil {
			t.Fatalf("%s's socket was closed at %d frames", who, s.out.len())
		}
	}
	if n := testutil.ToFloat64(srv.caps.refusals.WithLabelValues(limitOutQueue)); n != 1 {
		t.Fatalf("seatsfu_limit_refusals_total{limit=out_queue} = %v, want 1 (one socket closed)", n)
	}

	// A host's socket that overflows its own bound is cut too, and counted
	// under that bound's name.
	for range hostQueueLimit(srv.cfg.MaxMembers) {
		h.Notify(nil, []seat.Delivery{{To: seat.Hosts, Event: seat.MemberJoined{User: seat.User{UserID: "w", Role: seat.RoleAudience}}}})
	}
	if owner.ctx.Err() == nil {
		t.Fatalf("the owner's socket holding %d frames was not closed", owner.out.len())
	}
	if n := testutil.ToFloat64(srv.caps.refusals.WithLabelValues(limitHostOutQueue)); n != 2 {
		t.Fatalf("seatsfu_limit_refusals_total{limit=host_out_queue} = %v, want 2 (the owner and the promoted admin)", n)
	}
	if n := testutil.ToFloat64(srv.caps.refusals.WithLabelValues(limitOutQueue)); n != 1 {
		t.Fatalf("seatsfu_limit_refusals_total{limit=out_queue} = %v after the hosts were cut, want still 1", n)
	}
}
