package client_test

// Tests of the SDK's own machinery against a scripted fake server, so they
// hold whatever the real server does: call/response matching, errors,
// notification order, the store, the slow-listener policy and shutdown.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// fakeServer accepts one socket per dial and hands it to script.
type fakeServer struct {
	*httptest.Server
	wsURL string
	auth  chan string // the Authorization header or ?token= of each upgrade
}

func newFake(t *testing.T, script func(ctx context.Context, conn *websocket.Conn)) *fakeServer {
	return newFakeB(t, script)
}

func newFakeB(t testing.TB, script func(ctx context.Context, conn *websocket.Conn)) *fakeServer {
	t.Helper()
	f := &fakeServer{auth: make(chan string, 8)}
	var wg sync.WaitGroup
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get("Authorization")
		if tok == "" {
			tok = "query:" + r.URL.Query().Get("token")
		}
		if strings.HasSuffix(tok, "bad") {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		f.auth <- tok
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		wg.Add(1)
		defer wg.Done()
		defer conn.CloseNow()
		script(r.Context(), conn)
	}))
	f.wsURL = "ws" + strings.TrimPrefix(f.URL, "http")
	t.Cleanup(func() {
		f.CloseClientConnections()
		f.Close()
		wg.Wait()
	})
	return f
}

type frame struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
}

func readReq(ctx context.Context, conn *websocket.Conn) (frame, error) {
	var f frame
	_, data, err := conn.Read(ctx)
	if err != nil {
		return f, err
	}
	return f, json.Unmarshal(data, &f)
}

func send(ctx context.Context, conn *websocket.Conn, v string) error {
	return conn.Write(ctx, websocket.MessageText, []byte(v))
}

func notify(ctx context.Context, conn *websocket.Conn, method, params string) error {
	return send(ctx, conn, `{"jsonrpc":"2.0","method":"`+method+`","params":`+params+`}`)
}

func reply(ctx context.Context, conn *websocket.Conn, id json.RawMessage, result string) error {
	return send(ctx, conn, `{"jsonrpc":"2.0","id":`+string(id)+`,"result":`+result+`}`)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

const hostSnapshot = `{"room":{"roomId":"r","maxSeats":3,"seatMode":"apply","memberCount":2},
 "self":{"userId":"host","name":"H","avatar":"","role":"owner"},
 "seats":[{"index":0,"user":{"userId":"host","role":"owner"},"microphone":"off","camera":"off"},
          {"index":1,"user":null,"microphone":"off","camera":"off"},
          {"index":2,"user":null,"microphone":"off","camera":"off"}],
 "requests":[{"requestId":"q1","kind":"apply","from":{"userId":"ann","role":"audience"},"to":null,"seatIndex":-1,"extraInfo":"","expiresAt":0}]}`

func TestFakeCallsErrorsAndStore(t *testing.T) {
	ctx := testCtx(t)
	f := newFake(t, func(ctx context.Context, conn *websocket.Conn) {
		for {
			req, err := readReq(ctx, conn)
			if err != nil {
				return
			}
			switch req.Method {
			case "room.join":
				if string(req.Params) != `{"create":{"maxSeats":3}}` {
					send(ctx, conn, `{"jsonrpc":"2.0","id":`+string(req.ID)+`,"error":{"code":-32602,"message":"bad","data":{"reason":"invalid_params"}}}`)
					continue
				}
				reply(ctx, conn, req.ID, hostSnapshot)
			case "seat.acceptApplication":
				// The seat change reaches everyone before the caller's answer.
				notify(ctx, conn, "seat.changed", `{"seats":[{"index":0,"user":{"userId":"host"}},{"index":1,"user":{"userId":"ann"}},{"index":2,"user":null}],"joined":[{"user":{"userId":"ann"},"seatIndex":1}],"left":[]}`)
				reply(ctx, conn, req.ID, `{"seatIndex":1}`)
			case "seat.take":
				send(ctx, conn, `{"jsonrpc":"2.0","id":`+string(req.ID)+`,"error":{"code":100201,"message":"seat 1 is taken","data":{"reason":"seat_occupied"}}}`)
			default:
				send(ctx, conn, `{"jsonrpc":"2.0","id":`+string(req.ID)+`,"error":{"code":-32601,"message":"unknown method","data":{"reason":"method_not_found"}}}`)
			}
		}
	})
	c, err := client.Dial(ctx, f.wsURL, "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := <-f.auth; got != "Bearer tok" {
		t.Errorf("upgrade carried %q, want the bearer header", got)
	}
	snap, err := c.Join(ctx, &client.CreateOptions{MaxSeats: 3})
	if err != nil {
		t.Fatal(err)
	}
	if snap.Room.MaxSeats != 3 || snap.Self.UserID != "host" || len(snap.Seats) != 3 {
		t.Fatalf("snapshot decoded wrong: %+v", snap)
	}
	if a := c.Applicants(); len(a) != 1 || a[0].From.UserID != "ann" {
		t.Fatalf("applicants from the snapshot = %+v", a)
	}
	idx, err := c.AcceptApplication(ctx, "ann")
	if err != nil || idx != 1 {
		t.Fatalf("accept = %d, %v", idx, err)
	}
	if len(c.Applicants()) != 0 {
		t.Errorf("an accepted application is still listed: %+v", c.Applicants())
	}
	if got := c.SeatOf("ann"); got != 1 {
		t.Errorf("SeatOf(ann) = %d after seat.changed, want 1", got)
	}
	if n := len(c.Connected()); n != 2 {
		t.Errorf("Connected() has %d seats, want 2", n)
	}
	_, err = c.TakeSeat(ctx, 1)
	if !errors.Is(err, client.ErrSeatOccupied) || errors.Is(err, client.ErrSeatLocked) {
		t.Fatalf("take = %v, want seat_occupied only", err)
	}
	if e, ok := client.AsError(err); !ok || e.Code != 100201 || e.Message != "seat 1 is taken" {
		t.Errorf("error fields = %+v", e)
	}
	if err := c.Call(ctx, "no.such", nil, nil); !errors.Is(err, client.ErrMethodNotFound) {
		t.Errorf("unknown method = %v, want ErrMethodNotFound", err)
	}
}

func TestFakeTokenInQueryAndDialRefused(t *testing.T) {
	ctx := testCtx(t)
	f := newFake(t, func(ctx context.Context, conn *websocket.Conn) { conn.Read(ctx) })
	c, err := client.Dial(ctx, f.wsURL, "tok", client.WithTokenInQuery())
	if err != nil {
		t.Fatal(err)
	}
	if got := <-f.auth; got != "query:tok" {
		t.Errorf("upgrade carried %q, want the token in the query", got)
	}
	c.Close()
	_, err = client.Dial(ctx, f.wsURL, "bad")
	var de *client.DialError
	if !errors.As(err, &de) || de.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dial with a refused token = %v, want DialError 401", err)
	}
}

// recorder is a listener that writes down what it heard, in order.
type recorder struct {
	client.NopHostListener
	client.NopGuestListener
	client.NopRoomListener
	mu  sync.Mutex
	got []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.got = append(r.got, s)
	r.mu.Unlock()
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func (r *recorder) OnGuestApplicationReceived(q proto.Request) { r.add("received:" + q.From.UserID) }
func (r *recorder) OnGuestApplicationCancelled(u proto.User, reason string) {
	r.add("cancelled:" + u.UserID + ":" + reason)
}
func (r *recorder) OnGuestApplicationResponded(ok bool, h proto.User, idx int) {
	r.add("responded:" + h.UserID + ":" + map[bool]string{true: "yes", false: "no"}[ok] + ":" + string(rune('0'+idx+1)))
}
func (r *recorder) OnKickedOffSeat(idx int, by *proto.User) { r.add("kicked:" + by.UserID) }
func (r *recorder) OnMessage(m client.Message)              { r.add("msg:" + m.From.UserID + ":" + m.Text) }
func (r *recorder) OnStats(n int)                           { r.add("stats") }
func (r *recorder) OnRoomEnded(reason string)               { r.add("ended:" + reason) }

func TestFakeListenersInOrderThenRoomEnded(t *testing.T) {
	ctx := testCtx(t)
	f := newFake(t, func(ctx context.Context, conn *websocket.Conn) {
		req, err := readReq(ctx, conn)
		if err != nil {
			return
		}
		notify(ctx, conn, "seat.applicationReceived", `{"request":{"requestId":"a","kind":"apply","from":{"userId":"ann"},"seatIndex":-1,"expiresAt":0}}`)
		notify(ctx, conn, "room.message", `{"from":{"userId":"bob"},"text":"hi"}`)
		notify(ctx, conn, "seat.applicationCancelled", `{"user":{"userId":"ann"},"reason":"timeout"}`)
		notify(ctx, conn, "seat.applicationResponded", `{"accepted":false,"host":{"userId":"h"}}`)
		notify(ctx, conn, "seat.kicked", `{"seatIndex":2,"by":{"userId":"h"}}`)
		notify(ctx, conn, "room.stats", `{"memberCount":7}`)
		notify(ctx, conn, "room.ended", `{"reason":"ended_by_owner"}`)
		_ = req // never answered: the call must fail when the socket ends
		conn.Close(websocket.StatusNormalClosure, "room ended")
	})
	c, err := client.Dial(ctx, f.wsURL, "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rec := &recorder{}
	c.AddHostListener(rec)
	c.AddGuestListener(rec)
	c.AddRoomListener(rec)
	err = c.Call(ctx, "room.members", nil, nil)
	if !errors.Is(err, client.ErrRoomEnded) {
		t.Fatalf("pending call ended with %v, want ErrRoomEnded", err)
	}
	<-c.Done()
	if !errors.Is(c.Err(), client.ErrRoomEnded) || c.EndReason() != "ended_by_owner" {
		t.Fatalf("Err = %v, EndReason = %q", c.Err(), c.EndReason())
	}
	if c.MemberCount() != 7 {
		t.Errorf("MemberCount = %d, want 7 from room.stats", c.MemberCount())
	}
	c.Close() // waits for the dispatcher: every listener call happened
	want := []string{"received:ann", "msg:bob:hi", "cancelled:ann:timeout", "responded:h:no:0", "kicked:h", "stats", "ended:ended_by_owner"}
	if got := rec.list(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("listeners heard\n %v\nwant\n %v", got, want)
	}
	// The event log outlives the socket.
	if ev, err := c.NextEvent(ctx, client.MethodRoomStats); err != nil || string(ev.Params) != `{"memberCount":7}` {
		t.Errorf("NextEvent after close = %s, %v", ev.Params, err)
	}
	if _, err := c.NextEvent(ctx, client.MethodRoomStats); !errors.Is(err, client.ErrRoomEnded) {
		t.Errorf("a second NextEvent = %v, want the closing reason", err)
	}
}

func TestFakeSlowListenerClosesTheClient(t *testing.T) {
	ctx := testCtx(t)
	f := newFake(t, func(ctx context.Context, conn *websocket.Conn) {
		for i := 0; i < 20; i++ {
			if notify(ctx, conn, "room.stats", `{"memberCount":1}`) != nil {
				return
			}
		}
		conn.Read(ctx) // until the client goes
	})
	c, err := client.Dial(ctx, f.wsURL, "tok", client.WithQueueSize(2))
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	c.OnEvent(func(client.Event) { <-release })
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("a stuck listener with a full queue did not close the client")
	}
	if !errors.Is(c.Err(), client.ErrSlowListener) {
		t.Errorf("Err = %v, want ErrSlowListener", c.Err())
	}
	close(release)
	c.Close()
}

func TestFakeAbandonedCallStillUpdatesTheStore(t *testing.T) {
	ctx := testCtx(t)
	answer := make(chan struct{})
	asked := make(chan struct{})
	f := newFake(t, func(ctx context.Context, conn *websocket.Conn) {
		for {
			req, err := readReq(ctx, conn)
			if err != nil {
				return
			}
			switch req.Method {
			case "room.join":
				reply(ctx, conn, req.ID, hostSnapshot)
			case "seat.rejectApplication":
				close(asked)
				<-answer
				reply(ctx, conn, req.ID, `{}`)
				notify(ctx, conn, "room.stats", `{"memberCount":2}`) // a marker after the answer
			}
		}
	})
	c, err := client.Dial(ctx, f.wsURL, "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Join(ctx, nil); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithCancel(ctx)
	go func() {
		<-asked // the request reached the server: now stop waiting
		cancel()
	}()
	if err := c.RejectApplication(short, "ann"); !errors.Is(err, context.Canceled) {
		t.Fatalf("reject abandoned mid-call = %v", err)
	}
	close(answer)
	if _, err := c.NextEvent(ctx, client.MethodRoomStats); err != nil {
		t.Fatal(err)
	}
	if a := c.Applicants(); len(a) != 0 {
		t.Errorf("the server rejected ann but the store still lists %+v", a)
	}
}

func TestFakeUnmatchedResponsesGoToTheLog(t *testing.T) {
	ctx := testCtx(t)
	f := newFake(t, func(ctx context.Context, conn *websocket.Conn) {
		if _, _, err := conn.Read(ctx); err != nil {
			return
		}
		send(ctx, conn, `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"not json","data":{"reason":"parse_error"}}}`)
		conn.Read(ctx)
	})
	c, err := client.Dial(ctx, f.wsURL, "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteRaw([]byte(`{nope`)); err != nil {
		t.Fatal(err)
	}
	ev, err := c.NextResponse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(ev.Err, client.ErrParse) {
		t.Errorf("unmatched response error = %v, want ErrParse", ev.Err)
	}
}

func TestFakeTimeoutMustBeWholeSeconds(t *testing.T) {
	ctx := testCtx(t)
	f := newFake(t, func(ctx context.Context, conn *websocket.Conn) { conn.Read(ctx) })
	c, err := client.Dial(ctx, f.wsURL, "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ApplyForSeat(ctx, -1, 1500*time.Millisecond, ""); err == nil {
		t.Error("a 1.5 s timeout was sent; the protocol only has whole seconds")
	}
}

func TestFakeEventLogKeepsTheNewest(t *testing.T) {
	ctx := testCtx(t)
	f := newFake(t, func(ctx context.Context, conn *websocket.Conn) {
		for i := 1; i <= 5; i++ {
			notify(ctx, conn, "room.stats", `{"memberCount":`+string(rune('0'+i))+`}`)
		}
		notify(ctx, conn, "room.ended", `{"reason":"ended_by_owner"}`)
		conn.Read(ctx)
	})
	c, err := client.Dial(ctx, f.wsURL, "tok", client.WithEventLog(3))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.NextEvent(ctx, client.MethodRoomEnded); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range c.Events("*") {
		got = append(got, ev.Method+string(ev.Params))
	}
	want := []string{`room.stats{"memberCount":4}`, `room.stats{"memberCount":5}`, `room.ended{"reason":"ended_by_owner"}`}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("log = %v, want %v", got, want)
	}
	for _, n := range []int{4, 5} {
		s, err := client.Next[client.Stats](ctx, c, client.MethodRoomStats)
		if err != nil || s.MemberCount != n {
			t.Errorf("Next stats = %+v, %v; want %d", s, err, n)
		}
	}

	off, err := client.Dial(ctx, f.wsURL, "tok", client.WithEventLog(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	if _, err := off.NextEvent(ctx, client.MethodRoomStats); !errors.Is(err, client.ErrNoEventLog) {
		t.Errorf("NextEvent without a log = %v", err)
	}
	for off.EndReason() == "" { // the store still follows the room
		select {
		case <-ctx.Done():
			t.Fatal("room.ended never reached the store")
		case <-time.After(5 * time.Millisecond):
		}
	}
	if evs := off.Events("*"); len(evs) != 0 {
		t.Errorf("a disabled log holds %d events", len(evs))
	}
}

func TestFakeCallWithEndedContextIsNotSent(t *testing.T) {
	ctx := testCtx(t)
	got := make(chan string, 4)
	f := newFake(t, func(ctx context.Context, conn *websocket.Conn) {
		for {
			req, err := readReq(ctx, conn)
			if err != nil {
				return
			}
			got <- req.Method
			reply(ctx, conn, req.ID, `{}`)
		}
	})
	c, err := client.Dial(ctx, f.wsURL, "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ended, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.LeaveSeat(ended); !errors.Is(err, context.Canceled) {
		t.Fatalf("call with an ended context = %v", err)
	}
	must(t, "a live call", c.Leave(ctx))
	if m := <-got; m != "room.leave" {
		t.Errorf("the server first saw %q; the call with an ended context was sent", m)
	}
}
