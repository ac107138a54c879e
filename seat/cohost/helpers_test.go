package cohost

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The controller starts no goroutines; goleak keeps it that way.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time          { return c.now }
func (c *fakeClock) Advance(d time.Duration) { c.now = c.now.Add(d) }

func host(room string) Host {
	return Host{UserID: "own-" + room, Name: "Owner " + room, Avatar: "a/" + room}
}

type fixture struct {
	t     *testing.T
	clock *fakeClock
	c     *Controller
}

func newFixture(t *testing.T, maxRooms int) *fixture {
	t.Helper()
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	c, err := New(Config{MaxRooms: maxRooms, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, clock: clock, c: c}
}

func (f *fixture) request(from, to string) (string, []Delivery) {
	f.t.Helper()
	id, ds, err := f.c.Request(from, host(from), to, 10, "hi")
	if err != nil {
		f.t.Fatalf("Request %s→%s: %v", from, to, err)
	}
	return id, ds
}

func (f *fixture) accept(room, id string) []Delivery {
	f.t.Helper()
	ds, err := f.c.Accept(room, host(room), id)
	if err != nil {
		f.t.Fatalf("Accept %s %s: %v", room, id, err)
	}
	return ds
}

// connect makes rooms one connection, in order, through requests from the
// first room.
func (f *fixture) connect(rooms ...string) {
	f.t.Helper()
	for _, r := range rooms[1:] {
		id, _ := f.request(rooms[0], r)
		f.accept(r, id)
	}
	f.wantConn(rooms[0], rooms...)
}

func (f *fixture) wantConn(room string, want ...string) {
	f.t.Helper()
	var got []string
	for _, m := range f.c.Connection(room) {
		got = append(got, m.RoomID)
	}
	if !reflect.DeepEqual(got, want) {
		f.t.Fatalf("connection of %s = %v, want %v", room, got, want)
	}
}

func wantErr(t *testing.T, err error, want *Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %s", err, want.Reason)
	}
}

func wantDeliveries(t *testing.T, got, want []Delivery) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("deliveries:\n got  %#v\n want %#v", got, want)
	}
}

func members(rooms ...string) []Member {
	out := []Member{}
	for _, r := range rooms {
		out = append(out, Member{RoomID: r, Owner: host(r)})
	}
	return out
}

func toOwner(room string, ev Event) Delivery {
	return Delivery{To: Owner, Rooms: []string{room}, Event: ev}
}

func toRooms(ev Event, rooms ...string) Delivery {
	return Delivery{To: Everyone, Rooms: rooms, Event: ev}
}

// ended finds the Internal RequestEnded of ds.
func ended(ds []Delivery) []RequestEnded {
	var out []RequestEnded
	for _, d := range ds {
		if e, ok := d.Event.(RequestEnded); ok {
			out = append(out, e)
		}
	}
	return out
}
