package cluster

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/seat"
	"pgregory.net/rapid"
)

type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

// busyRoom is a room that uses every part of the state: guests, locks,
// mutes, publishing, a ban, a disconnected member in its grace, an
// application and an invitation with timeouts.
func busyRoom(t testing.TB, clock *fakeClock) *seat.Room {
	t.Helper()
	u := func(id string, role seat.Role) seat.User {
		return seat.User{UserID: id, Name: "n-" + id, Avatar: "https://a.example/" + id, Role: role}
	}
	r, err := seat.New(seat.Config{RoomID: "r1", MaxSeats: 4, Owner: u("o", seat.RoleOwner), Grace: 10 * time.Second, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, x := range []seat.User{u("a", seat.RoleAdmin), u("g", seat.RoleAudience), u("p", seat.RoleAudience), u("q", seat.RoleAudience), u("x", seat.RoleAudience)} {
		_, _, err := r.Join(x)
		must(err)
	}
	_, _, err = r.Take("a", 1)
	must(err)
	_, err = r.SetPublishing("a", seat.KindVideo, true)
	must(err)
	_, err = r.SetMuted("a", seat.KindAudio, true)
	must(err)
	_, err = r.Lock("o", 3, nil, ptr(true), nil)
	must(err)
	_, err = r.KickOut("o", "x")
	must(err)
	_, _, err = r.Apply("p", 2, 30, "hello")
	must(err)
	clock.now = clock.now.Add(1234567 * time.Nanosecond) // deadlines off the millisecond
	_, _, err = r.Invite("a", "q", seat.NoSeat, 60, "")
	must(err)
	_, err = r.Disconnect("g")
	must(err)
	return r
}

func ptr[T any](v T) *T { return &v }

// TestStateBlobRoundTrip: a busy room's state survives the blob exactly,
// deadlines to the nanosecond, and the decoded state restores a room that
// exports the same state again.
func TestStateBlobRoundTrip(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	r := busyRoom(t, clock)
	st, ok := r.Export()
	if !ok {
		t.Fatal("a live room exported nothing")
	}
	if len(st.Requests) != 2 || len(st.Banned) != 1 || st.Members[2].Connected {
		t.Fatalf("the fixture lost a part of the state: %+v", st)
	}
	blob, err := EncodeState(st)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeState(blob)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, st) {
		t.Fatalf("decoded state differs:\nwant %+v\ngot  %+v", st, back)
	}
	r2, err := seat.Restore(back, seat.Config{Grace: 10 * time.Second, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := r2.Export(); !reflect.DeepEqual(again, st) {
		t.Fatalf("restored room exports\n%+v\nwant\n%+v", again, st)
	}
	at1, _ := r.NextDeadline()
	at2, _ := r2.NextDeadline()
	if !at1.Equal(at2) {
		t.Fatalf("next deadline %v, want %v", at2, at1)
	}
}

// TestStateBlobArbitrary: any state value, consistent or not, decodes to
// itself (consistency is seat.Restore's business, not the codec's).
func TestStateBlobArbitrary(t *testing.T) {
	str := rapid.StringMatching(`[a-z0-9]{0,6}`)
	when := rapid.Custom(func(t *rapid.T) time.Time {
		if rapid.Bool().Draw(t, "zero") {
			return time.Time{}
		}
		return time.Unix(0, rapid.Int64Range(1, 1<<62).Draw(t, "ns"))
	})
	user := rapid.Custom(func(t *rapid.T) seat.User {
		return seat.User{UserID: str.Draw(t, "id"), Name: str.Draw(t, "name"), Avatar: str.Draw(t, "avatar"), Role: seat.Role(str.Draw(t, "role"))}
	})
	rapid.Check(t, func(t *rapid.T) {
		st := seat.State{
			RoomID: str.Draw(t, "room"), MaxSeats: rapid.IntRange(0, 20).Draw(t, "max"), Mode: seat.Mode(str.Draw(t, "mode")),
			LastMemberSeq: rapid.Uint64().Draw(t, "lms"), LastRequestID: rapid.Uint64().Draw(t, "lrid"),
			LastDeadlineSeq: rapid.Uint64().Draw(t, "lds"),
			Banned:          rapid.SliceOf(str).Draw(t, "banned"),
			Members: rapid.SliceOf(rapid.Custom(func(t *rapid.T) seat.StateMember {
				return seat.StateMember{User: user.Draw(t, "u"), Seq: rapid.Uint64().Draw(t, "seq"), Connected: rapid.Bool().Draw(t, "c"),
					GraceUntil: when.Draw(t, "g"), GraceSeq: rapid.Uint64().Draw(t, "gs")}
			})).Draw(t, "members"),
			Seats: rapid.SliceOf(rapid.Custom(func(t *rapid.T) seat.StateSeat {
				b := func(l string) bool { return rapid.Bool().Draw(t, l) }
				return seat.StateSeat{UserID: str.Draw(t, "occ"), Locked: b("l"), AudioLocked: b("al"), VideoLocked: b("vl"),
					AudioMuted: b("am"), VideoMuted: b("vm"), AudioPublishing: b("ap"), VideoPublishing: b("vp")}
			})).Draw(t, "seats"),
			Requests: rapid.SliceOf(rapid.Custom(func(t *rapid.T) seat.StateRequest {
				w := seat.Request{RequestID: str.Draw(t, "rid"), Kind: seat.RequestKind(str.Draw(t, "kind")), From: user.Draw(t, "from"),
					SeatIndex: rapid.IntRange(-2, 20).Draw(t, "si"), ExtraInfo: str.Draw(t, "extra"), ExpiresAt: rapid.Int64().Draw(t, "exp")}
				if rapid.Bool().Draw(t, "hasTo") {
					to := user.Draw(t, "to")
					w.To = &to
				}
				return seat.StateRequest{Request: w, Seq: rapid.Uint64().Draw(t, "seq"), Subject: str.Draw(t, "subj"),
					Inviter: str.Draw(t, "inv"), Deadline: when.Draw(t, "dl"), TimerSeq: rapid.Uint64().Draw(t, "ts")}
			})).Draw(t, "requests"),
		}
		blob, err := EncodeState(st)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeState(blob)
		if err != nil {
			t.Fatal(err)
		}
		// JSON cannot tell an empty list from none; the state means the same.
		if !reflect.DeepEqual(normal(back), normal(st)) {
			t.Fatalf("decoded state differs:\nwant %+v\ngot  %+v", st, back)
		}
	})
}

func normal(s seat.State) seat.State {
	if len(s.Banned) == 0 {
		s.Banned = nil
	}
	if len(s.Members) == 0 {
		s.Members = nil
	}
	if len(s.Seats) == 0 {
		s.Seats = nil
	}
	if len(s.Requests) == 0 {
		s.Requests = nil
	}
	return s
}

// TestStateBlobRefused: garbage, a missing format and a newer format are
// errors, never a panic or a half-read state.
func TestStateBlobRefused(t *testing.T) {
	for blob, want := range map[string]string{
		"":                       "blob",
		"{":                      "blob",
		`{"roomId":"r"}`:         "no format",
		`{"format":99}`:          "newer",
		`{"format":1,"seats":7}`: "blob",
	} {
		if _, err := DecodeState([]byte(blob)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("DecodeState(%q) = %v, want an error about %q", blob, err, want)
		}
	}
}
