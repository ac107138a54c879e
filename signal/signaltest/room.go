package signaltest

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// Member dials and joins a room through the SDK; closed at cleanup.
func (env *Env) Member(t testing.TB, room, user string, role proto.Role, create *client.CreateOptions) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, env.WSURL, env.Token(room, user, role))
	if err != nil {
		t.Fatalf("dial %s: %v", user, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Join(ctx, create); err != nil {
		t.Fatalf("%s join: %v", user, err)
	}
	return c
}

// Ctx10 is a context that ends after 10 s or with the test.
func Ctx10(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// WaitFor polls cond until it holds or d passes.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// RoomState is what a refused request must not change: the rooms, one
// room's seats and member count, and the media sessions.
type RoomState struct {
	Rooms    []string
	Seats    []seat.Seat
	Members  int
	Sessions int
}

// RoomState reads the rooms, room's seats and members, and the server's
// media sessions, for comparison with reflect.DeepEqual.
func (env *Env) RoomState(t testing.TB, room string) RoomState {
	t.Helper()
	var st RoomState
	for _, r := range env.SFU.Rooms() {
		st.Rooms = append(st.Rooms, r.ID())
	}
	sort.Strings(st.Rooms) // Rooms comes from a map
	if r := env.SFU.Room(room); r != nil {
		_ = r.Do(func(sr *seat.Room) ([]seat.Delivery, error) {
			st.Seats, st.Members = sr.Seats(), sr.MemberCount()
			return nil, nil
		})
	}
	st.Sessions = env.Server.MediaSessions()
	return st
}
