package client_test

// Helpers of the end-to-end suite: a running server from signaltest, users
// dialled over real WebSockets on 127.0.0.1, and waits with deadlines.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// waitFor bounds every wait of the suite: far above any correct delay, far
// below the test binary's timeout.
const waitFor = 5 * time.Second

// grace is the reconnect grace of the suite's server: short, so the
// disconnect flows run in about a second.
const grace = time.Second

// env is one running server.
type env struct {
	t     *testing.T
	st    *signaltest.Env
	wsURL string
	pick  func() string // a node's wsURL per dial (cluster_env_test.go); nil: wsURL
	token func(room, user string, role proto.Role) string
	rooms atomic.Int64
}

// newRoom names a fresh room, so tests sharing a server never meet.
func (e *env) newRoom() string { return fmt.Sprintf("room-%d", e.rooms.Add(1)) }

// dial connects user without joining; the client is closed at cleanup.
func (e *env) dial(room, user string, role proto.Role) *client.Client {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	url := e.wsURL
	if e.pick != nil {
		url = e.pick()
	}
	c, err := client.Dial(ctx, url, e.token(room, user, role))
	if err != nil {
		e.t.Fatalf("dial %s as %s: %v", user, role, err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// join dials and joins; owners create the room with opts.
func (e *env) join(room, user string, role proto.Role, opts *client.CreateOptions) *client.Client {
	e.t.Helper()
	c := e.dial(room, user, role)
	if _, err := c.Join(ctxT(e.t), opts); err != nil {
		e.t.Fatalf("%s joins %s: %v", user, room, err)
	}
	return c
}

// ctxT is a context that ends at the suite's wait bound.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

// next waits for c's next notification of method and decodes it.
func next[T any](t *testing.T, c *client.Client, method string) T {
	t.Helper()
	v, _ := nextAt[T](t, c, method)
	return v
}

// nextAt is next that also returns when the frame arrived.
func nextAt[T any](t *testing.T, c *client.Client, method string) (T, time.Time) {
	t.Helper()
	ev, err := c.NextEvent(ctxT(t), method)
	if err != nil {
		t.Fatalf("%s waiting for %s: %v", c.Self().UserID, method, err)
	}
	v, err := client.Decode[T](ev)
	if err != nil {
		t.Fatalf("%s: %s params %s: %v", c.Self().UserID, method, ev.Params, err)
	}
	return v, ev.At
}

// must fails the test on err.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// refused checks that err carries the contract's reason.
func refused(t *testing.T, what string, err error, want *client.Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %s", what, err, want.Reason)
	}
	if e, ok := client.AsError(err); ok && want.Reason != "" && e.Code != want.Code {
		t.Errorf("%s: reason %s carried code %d, want %d", what, e.Reason, e.Code, want.Code)
	}
}

var barrierSeq atomic.Int64

// barrier makes sure every notification the server had queued for each of
// to before this call has arrived: from sends a custom command, and every
// socket's frames are delivered in order, so once the command arrives,
// everything queued before it has too. from must not be in to (a message is
// never echoed). rate_limited answers are retried.
func barrier(t *testing.T, from *client.Client, to ...*client.Client) {
	t.Helper()
	id := fmt.Sprintf("b%d", barrierSeq.Add(1))
	ctx := ctxT(t)
	for {
		err := from.SendCommand(ctx, "barrier", id)
		if err == nil {
			break
		}
		if !errors.Is(err, client.ErrRateLimited) {
			t.Fatalf("barrier from %s: %v", from.Self().UserID, err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("barrier from %s: rate limited until the deadline", from.Self().UserID)
		case <-time.After(50 * time.Millisecond): // back off under the rate limit
		}
	}
	for _, c := range to {
		for {
			m := next[client.Message](t, c, client.MethodRoomMessage)
			if m.Cmd == "barrier" && m.Data == id {
				break
			}
		}
	}
}

// none checks that c received no notification of method so far (call it
// after a barrier).
func none(t *testing.T, c *client.Client, method string) {
	t.Helper()
	if evs := c.Events(method); len(evs) > 0 {
		t.Fatalf("%s got %d unexpected %s, first %s", c.Self().UserID, len(evs), method, evs[0].Params)
	}
}

// seatUser is who sits on seat index in seats ("" when empty).
func seatUser(seats []proto.Seat, index int) string {
	for _, s := range seats {
		if s.Index == index && s.User != nil {
			return s.User.UserID
		}
	}
	return ""
}

// waitSeat waits for a seat.changed at c showing user on index ("" = empty)
// and returns it.
func waitSeat(t *testing.T, c *client.Client, index int, user string) proto.SeatChanged {
	t.Helper()
	for {
		ch := next[proto.SeatChanged](t, c, client.MethodSeatChanged)
		if seatUser(ch.Seats, index) == user {
			return ch
		}
	}
}

// waitSeatWhere waits for a seat.changed at c for which ok holds.
func waitSeatWhere(t *testing.T, c *client.Client, what string, ok func(proto.SeatChanged) bool) proto.SeatChanged {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for time.Now().Before(deadline) {
		ch := next[proto.SeatChanged](t, c, client.MethodSeatChanged)
		if ok(ch) {
			return ch
		}
	}
	t.Fatalf("%s: no seat.changed where %s", c.Self().UserID, what)
	return proto.SeatChanged{}
}

// within checks a deadline fired within ±250 ms of expiresAt (unix ms).
func within(t *testing.T, what string, at time.Time, expiresAt int64) {
	t.Helper()
	if expiresAt == 0 {
		t.Fatalf("%s: the request carried no expiresAt", what)
	}
	d := at.Sub(time.UnixMilli(expiresAt))
	t.Logf("%s arrived %v after expiresAt", what, d)
	if d < -250*time.Millisecond || d > 250*time.Millisecond {
		t.Errorf("%s arrived %v from expiresAt, outside ±250 ms", what, d)
	}
}

// left finds user's entry in a seat.changed left list.
func left(ch proto.SeatChanged, user string) (proto.SeatLeave, bool) {
	for _, l := range ch.Left {
		if l.User.UserID == user {
			return l, true
		}
	}
	return proto.SeatLeave{}, false
}

func joined(ch proto.SeatChanged, user string) (proto.SeatJoin, bool) {
	for _, j := range ch.Joined {
		if j.User.UserID == user {
			return j, true
		}
	}
	return proto.SeatJoin{}, false
}

// rawParams is for calls the typed API would not send (bad input).
func rawParams(s string) json.RawMessage { return json.RawMessage(s) }

// contains reports whether s holds sub, for error messages.
func contains(s, sub string) bool { return strings.Contains(s, sub) }

// waitLeft waits for a seat.changed at c whose left list holds user, and
// returns it with that entry.
func waitLeft(t *testing.T, c *client.Client, user string) (proto.SeatChanged, proto.SeatLeave) {
	t.Helper()
	ch := waitSeatWhere(t, c, user+" left a seat", func(ch proto.SeatChanged) bool {
		_, ok := left(ch, user)
		return ok
	})
	l, _ := left(ch, user)
	return ch, l
}
