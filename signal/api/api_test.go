package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/seatsfu/seatsfu/internal/metrictest"
	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/signal/api"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/token"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var secret = []byte("0123456789abcdef0123456789abcdef")

// fakeRooms records each call and answers with err when set.
type fakeRooms struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (f *fakeRooms) record(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	return f.err
}

func (f *fakeRooms) last() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return ""
	}
	return f.calls[len(f.calls)-1]
}

var someRoom = proto.APIRoom{
	RoomID: "r1", Title: "t", CreatedAt: 1, Owner: proto.User{UserID: "o", Role: proto.RoleOwner},
	MemberCount: 1, Seats: []proto.Seat{{Index: 0, User: &proto.User{UserID: "o", Role: proto.RoleOwner}, Microphone: proto.DeviceOff, Camera: proto.DeviceOff}},
	Cohost: []string{},
}

func (f *fakeRooms) List(cursor string, limit int) (proto.APIRoomList, error) {
	return proto.APIRoomList{Rooms: []proto.APIRoom{someRoom}, NextCursor: "r1"}, f.record("List " + cursor)
}
func (f *fakeRooms) Get(id string) (proto.APIRoom, error) { return someRoom, f.record("Get " + id) }
func (f *fakeRooms) Update(id string, p proto.RoomUpdateParams) error {
	return f.record("Update " + id + " " + deref(p.Title))
}
func (f *fakeRooms) End(id string) error { return f.record("End " + id) }
func (f *fakeRooms) Members(id, cursor string, limit int) (proto.APIMemberList, error) {
	return proto.APIMemberList{Members: []proto.User{someRoom.Owner}}, f.record("Members " + id)
}
func (f *fakeRooms) KickOut(id, user string, ban bool) error {
	return f.record("KickOut " + id + " " + user + " " + map[bool]string{true: "ban", false: "noban"}[ban])
}
func (f *fakeRooms) Unban(id, user string) (bool, error) {
	return user != "notbanned", f.record("Unban " + id + " " + user)
}
func (f *fakeRooms) SetRole(id, user string, role proto.Role) error {
	return f.record("SetRole " + id + " " + user + " " + string(role))
}
func (f *fakeRooms) SetChatMuted(id, user string, muted bool) error {
	return f.record("SetChatMuted " + id + " " + user)
}
func (f *fakeRooms) LockSeat(id string, index int, p proto.APISeatLock) error {
	return f.record("LockSeat " + id)
}
func (f *fakeRooms) KickSeat(id string, index int) error { return f.record("KickSeat " + id) }
func (f *fakeRooms) SendMessage(id string, m proto.APIMessage) error {
	return f.record("SendMessage " + id + " " + deref(m.Text))
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// fakeBattles credits scores to battle "b1" of room "r1" only.
type fakeBattles struct{ got int64 }

func (b *fakeBattles) AddScore(battle, room string, delta int64) error {
	switch {
	case battle != "b1":
		return api.ErrBattleNotFound
	case room != "r1":
		return api.ErrRoomNotInBattle
	}
	b.got += delta
	return nil
}

type fixture struct {
	t       *testing.T
	srv     *httptest.Server
	rooms   *fakeRooms
	battles *fakeBattles
	doc     *openapi3.T
	router  routers.Router
	service string
	reg     *prometheus.Registry
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, rooms: &fakeRooms{}, battles: &fakeBattles{}, reg: prometheus.NewRegistry()}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := api.New(api.Config{Secret: secret, Rooms: f.rooms, Battles: f.battles, Registerer: f.reg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(a.Handler())
	t.Cleanup(f.srv.Close)
	f.service, err = token.MintService(secret, "backend", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	resp, raw := f.do("GET", "/v1/api/openapi.json", "", "")
	if resp.StatusCode != 200 {
		t.Fatalf("openapi.json: %d %s", resp.StatusCode, raw)
	}
	loader := openapi3.NewLoader()
	f.doc, err = loader.LoadFromData(raw)
	if err != nil {
		t.Fatalf("load the document: %v", err)
	}
	if err := f.doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	f.doc.Servers = openapi3.Servers{{URL: f.srv.URL}}
	if f.router, err = legacy.NewRouter(f.doc); err != nil {
		t.Fatal(err)
	}
	return f
}

// do sends a request with the given bearer token ("" for none) and, when
// the route is in the document, validates request and response against it.
func (f *fixture) do(method, path, bearer, body string) (*http.Response, []byte) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if f.router != nil {
		f.validate(req, body, resp, raw)
	}
	return resp, raw
}

// validate checks the exchange against the document: the request (when it
// was meant to succeed) and always the response's status and body shape.
func (f *fixture) validate(req *http.Request, body string, resp *http.Response, raw []byte) {
	f.t.Helper()
	req.Body = io.NopCloser(strings.NewReader(body))
	rt, pathParams, err := f.router.FindRoute(req)
	if err != nil {
		return // not a documented route: nothing to compare
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: pathParams, Route: rt,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}
	if resp.StatusCode == 200 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			f.t.Errorf("%s %s: request does not match the document: %v", req.Method, req.URL.Path, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body:    io.NopCloser(bytes.NewReader(raw)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		f.t.Errorf("%s %s → %d %s: response does not match the document: %v", req.Method, req.URL.Path, resp.StatusCode, raw, err)
	}
}

func (f *fixture) want(method, path, body string, status int, reason string) []byte {
	f.t.Helper()
	resp, raw := f.do(method, path, f.service, body)
	if resp.StatusCode != status {
		f.t.Fatalf("%s %s %s: %d %s, want %d", method, path, body, resp.StatusCode, raw, status)
	}
	if reason != "" {
		var e proto.APIError
		if err := json.Unmarshal(raw, &e); err != nil || e.Error.Reason != reason || e.Error.Message == "" {
			f.t.Fatalf("%s %s: body %s, want reason %s", method, path, raw, reason)
		}
	}
	return raw
}

// concrete fills an OpenAPI path's parameters with valid values.
func concrete(path string) string {
	return strings.NewReplacer("{room}", "r1", "{user}", "u1", "{index}", "1", "{battleId}", "b1").Replace(path)
}

// The document is valid OpenAPI 3, every operation in it is a route the
// handler serves (the mux resolves it to exactly that pattern, not to the
// catch-all), and a path that is not in it is a JSON 404.
func TestOpenAPIDocumentMatchesTheRoutes(t *testing.T) {
	f := newFixture(t)
	a, err := api.New(api.Config{Secret: secret, Rooms: f.rooms})
	if err != nil {
		t.Fatal(err)
	}
	mux := a.Handler().(*http.ServeMux)
	n := 0
	for path, item := range f.doc.Paths.Map() {
		for method := range item.Operations() {
			n++
			req := httptest.NewRequest(method, concrete(path), nil)
			if _, pattern := mux.Handler(req); pattern != method+" "+path {
				t.Errorf("%s %s resolves to %q, not to its own route", method, path, pattern)
			}
		}
	}
	if n != 14 { // §11's thirteen endpoints and the document itself
		t.Errorf("the document has %d operations, want 14", n)
	}
	for _, bogus := range []string{"/v1/api/rooms/r1/nothing", "/v1/api/", "/v1/api/battles"} {
		req := httptest.NewRequest("GET", bogus, nil)
		if _, pattern := mux.Handler(req); pattern != "/v1/api/" {
			t.Errorf("%s resolves to %q", bogus, pattern)
		}
		f.want("GET", bogus, "", 404, "not_found")
	}
}

// Every authenticated operation: no token or a bad one is 401, a room
// member's token 403, each with the JSON error body; nothing is called.
func TestEveryOperationNeedsAServiceToken(t *testing.T) {
	f := newFixture(t)
	user, _ := token.Mint(secret, token.Identity{UserID: "ann", Room: "r1", Role: proto.RoleOwner}, time.Hour)
	other, _ := token.MintService([]byte("another secret, also 32 bytes..."), "x", time.Hour)
	for path, item := range f.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Security != nil && len(*op.Security) == 0 {
				continue // public: the document itself
			}
			for _, c := range []struct {
				name, bearer string
				status       int
				reason       string
			}{
				{"no token", "", 401, "unauthorized"},
				{"garbage", "not-a-jwt", 401, "unauthorized"},
				{"wrong secret", other, 401, "unauthorized"},
				{"user token", user, 403, "forbidden"},
			} {
				resp, raw := f.do(method, concrete(path), c.bearer, "{}")
				var e proto.APIError
				_ = json.Unmarshal(raw, &e)
				if resp.StatusCode != c.status || e.Error.Reason != c.reason {
					t.Errorf("%s %s with %s: %d %s, want %d %s", method, path, c.name, resp.StatusCode, raw, c.status, c.reason)
				}
			}
		}
	}
	if f.rooms.last() != "" {
		t.Fatalf("an unauthenticated request reached the rooms: %s", f.rooms.last())
	}
}

// Each operation routes to its action with the path's ids and the body's
// fields, answers 200 with a body the document describes, and maps the
// rooms' refusals to 400/404/409.
func TestOperationsCallTheRooms(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		method, path, body, call string
	}{
		{"GET", "/v1/api/rooms?limit=10&cursor=a", "", "List a"},
		{"GET", "/v1/api/rooms/r1", "", "Get r1"},
		{"PATCH", "/v1/api/rooms/r1", `{"title":"new"}`, "Update r1 new"},
		{"POST", "/v1/api/rooms/r1/end", "", "End r1"},
		{"GET", "/v1/api/rooms/r1/members?limit=5", "", "Members r1"},
		{"POST", "/v1/api/rooms/r1/members/u1/kickOut", "", "KickOut r1 u1 ban"},
		{"POST", "/v1/api/rooms/r1/members/u1/kickOut", `{"ban":false}`, "KickOut r1 u1 noban"},
		{"DELETE", "/v1/api/rooms/r1/bans/u1", "", "Unban r1 u1"},
		{"POST", "/v1/api/rooms/r1/members/u1/role", `{"role":"admin"}`, "SetRole r1 u1 admin"},
		{"POST", "/v1/api/rooms/r1/members/u1/chatMute", `{"muted":true}`, "SetChatMuted r1 u1"},
		{"POST", "/v1/api/rooms/r1/seats/2/lock", `{"lockSeat":true}`, "LockSeat r1"},
		{"POST", "/v1/api/rooms/r1/seats/2/kick", "", "KickSeat r1"},
		{"POST", "/v1/api/rooms/r1/messages", `{"text":"hi"}`, "SendMessage r1 hi"},
	} {
		f.want(c.method, c.path, c.body, 200, "")
		if got := f.rooms.last(); got != c.call {
			t.Errorf("%s %s called %q, want %q", c.method, c.path, got, c.call)
		}
	}
	// Bad input never reaches the rooms.
	before := len(f.rooms.calls)
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/api/rooms?limit=0", ""},
		{"GET", "/v1/api/rooms?limit=101", ""},
		{"GET", "/v1/api/rooms?cursor=bad%20id", ""},
		{"GET", "/v1/api/rooms/bad%20id", ""},
		{"PATCH", "/v1/api/rooms/r1", `{"title":"x","extra":1}`},
		{"PATCH", "/v1/api/rooms/r1", `{"title":"x"} {}`},
		{"PATCH", "/v1/api/rooms/r1", `[1]`},
		{"PATCH", "/v1/api/rooms/r1", `{"metadata":"` + strings.Repeat("a", api.MaxBody) + `"}`},
		{"PATCH", "/v1/api/rooms/r1", `{}`},
		{"POST", "/v1/api/rooms/r1/members/u1/role", `{"role":"owner"}`},
		{"POST", "/v1/api/rooms/r1/members/u1/role", `{}`},
		{"POST", "/v1/api/rooms/r1/members/u1/chatMute", `{}`},
		{"POST", "/v1/api/rooms/r1/seats/x/kick", ""},
		{"POST", "/v1/api/battles/b1/score", `{"roomId":"r1"}`},
	} {
		f.want(c.method, c.path, c.body, 400, "invalid_params")
	}
	if len(f.rooms.calls) != before {
		t.Fatalf("bad input reached the rooms: %v", f.rooms.calls[before:])
	}
	f.want("DELETE", "/v1/api/rooms/r1/bans/notbanned", "", 404, "not_banned")
	if got := f.requests("unbanUser", "404"); got != 1 {
		t.Errorf("seatsfu_api_requests_total{operation=unbanUser,status=404} = %v, want 1", got)
	}
	if got := f.requests("kickOutMember", "200"); got != 2 {
		t.Errorf("seatsfu_api_requests_total{operation=kickOutMember,status=200} = %v, want 2", got)
	}

	for _, c := range []struct {
		err    error
		status int
		reason string
	}{
		{seat.ErrRoomNotFound, 404, "room_not_found"},
		{seat.ErrNotJoined, 404, "not_joined"},
		{seat.ErrPermission, 409, "permission_denied"},
		{seat.ErrNotSeated, 409, "not_seated"},
		{seat.ErrInvalidParams, 400, "invalid_params"},
		{seat.ErrSeatIndexInvalid, 400, "seat_index_invalid"},
		{&seat.Error{Reason: "overloaded", Message: "the room's host is unreachable"}, 503, "overloaded"},
		{errors.New("disk on fire"), 500, "internal_error"},
	} {
		f.rooms.err = c.err
		raw := f.want("POST", "/v1/api/rooms/r1/members/u1/kickOut", "", c.status, c.reason)
		if c.status == 500 && strings.Contains(string(raw), "fire") {
			t.Errorf("a 500 leaked its cause: %s", raw)
		}
	}
}

func TestBattleScoreRoutesToBattles(t *testing.T) {
	f := newFixture(t)
	f.want("POST", "/v1/api/battles/b1/score", `{"roomId":"r1","delta":5}`, 200, "")
	f.want("POST", "/v1/api/battles/b1/score", `{"roomId":"r1","delta":-2}`, 200, "")
	if f.battles.got != 3 {
		t.Fatalf("score %d, want 3", f.battles.got)
	}
	f.want("POST", "/v1/api/battles/nope/score", `{"roomId":"r1","delta":5}`, 404, "battle_not_found")
	f.want("POST", "/v1/api/battles/b1/score", `{"roomId":"r2","delta":5}`, 409, "room_not_in_battle")
	f.want("POST", "/v1/api/battles/b1/score", `{"roomId":"r1","delta":1.5}`, 400, "invalid_params")
}

// requests reads seatsfu_api_requests_total for one operation and status.
func (f *fixture) requests(op, status string) float64 {
	f.t.Helper()
	return metrictest.Value(f.t, f.reg, "seatsfu_api_requests_total", "operation", op, "status", status)
}
