package signal_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// A refused token is answered 401 before the upgrade and opens no room.
func TestBadTokensAre401(t *testing.T) {
	env := signaltest.Start(t)
	now := time.Now()
	sign := func(key []byte, claims jwt.MapClaims) string {
		raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	claims := func(exp time.Time) jwt.MapClaims {
		return jwt.MapClaims{"sub": "boss", "room": "r1", "role": "owner", "exp": exp.Unix()}
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims(now.Add(time.Hour))).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"missing":         "",
		"garbage":         "not-a-token",
		"wrong signature": sign([]byte("another secret"), claims(now.Add(time.Hour))),
		"expired":         sign(env.Secret, claims(now.Add(-time.Hour))),
		"alg none":        none,
		"bad role":        sign(env.Secret, jwt.MapClaims{"sub": "boss", "room": "r1", "role": "god", "exp": now.Add(time.Hour).Unix()}),
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			for _, where := range []string{"header", "query"} {
				req, _ := http.NewRequestWithContext(testCtx(t), http.MethodGet, env.URL+"/v1/rtc", nil)
				if where == "header" && raw != "" {
					req.Header.Set("Authorization", "Bearer "+raw)
				} else {
					req.URL.RawQuery = "token=" + raw
				}
				req.Header.Set("Connection", "Upgrade")
				req.Header.Set("Upgrade", "websocket")
				req.Header.Set("Sec-WebSocket-Version", "13")
				req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("%s: status %d, want 401", where, resp.StatusCode)
				}
			}
		})
	}
	if env.SFU.Room("r1") != nil {
		t.Fatal("a refused token opened a room")
	}
	// The query form works for a good token (browsers cannot set headers).
	ws, _, err := websocket.Dial(testCtx(t), env.WSURL+"?token="+env.Token("r1", "boss", proto.RoleOwner), nil)
	if err != nil {
		t.Fatalf("query token: %v", err)
	}
	c := signaltest.NewConn(ws)
	defer c.Close()
	call(t, c, "room.join", nil, nil)
}

// Every kind of bad frame gets its JSON-RPC error, keeps the socket open and
// changes nothing.
func TestBadFramesKeepSocketAndState(t *testing.T) {
	env := signaltest.Start(t)
	owner, _ := join(t, env, "r1", "boss", proto.RoleOwner, map[string]any{"create": map[string]any{"maxSeats": 4}})
	viewer, _ := join(t, env, "r1", "ann", proto.RoleAudience, nil)
	ctx := testCtx(t)

	cases := []struct {
		name   string
		frame  string
		id     string // the id the error must carry ("null" when none could be read)
		code   int
		reason string
	}{
		{"not json", `{"jsonrpc":"2.0",`, "null", -32700, "parse_error"},
		{"garbage", `hello`, "null", -32700, "parse_error"},
		{"batch", `[{"jsonrpc":"2.0","id":1,"method":"room.members"}]`, "null", -32600, "invalid_request"},
		{"empty batch", `[]`, "null", -32600, "invalid_request"},
		{"bare number", `42`, "null", -32600, "invalid_request"},
		{"wrong version", `{"jsonrpc":"1.0","id":"v","method":"room.members"}`, `"v"`, -32600, "invalid_request"},
		{"no version", `{"id":7,"method":"room.members"}`, "7", -32600, "invalid_request"},
		{"no method", `{"jsonrpc":"2.0","id":8}`, "8", -32600, "invalid_request"},
		{"method not string", `{"jsonrpc":"2.0","id":9,"method":5}`, "9", -32600, "invalid_request"},
		{"id bool", `{"jsonrpc":"2.0","id":true,"method":"room.members"}`, "null", -32600, "invalid_request"},
		{"id object", `{"jsonrpc":"2.0","id":{},"method":"room.members"}`, "null", -32600, "invalid_request"},
		{"no id", `{"jsonrpc":"2.0","method":"seat.leave"}`, "null", -32600, "invalid_request"},
		{"extra member", `{"jsonrpc":"2.0","id":10,"method":"room.members","x":1}`, "10", -32600, "invalid_request"},
		{"unknown method", `{"jsonrpc":"2.0","id":11,"method":"seat.steal"}`, "11", -32601, "method_not_found"},
		{"params array", `{"jsonrpc":"2.0","id":12,"method":"seat.take","params":[1]}`, "12", -32602, "invalid_params"},
		{"seatIndex string", `{"jsonrpc":"2.0","id":13,"method":"seat.take","params":{"seatIndex":"1"}}`, "13", -32602, "invalid_params"},
		{"seatIndex float", `{"jsonrpc":"2.0","id":14,"method":"seat.take","params":{"seatIndex":1.5}}`, "14", -32602, "invalid_params"},
		{"seatIndex missing", `{"jsonrpc":"2.0","id":15,"method":"seat.take","params":{}}`, "15", -32602, "invalid_params"},
		{"unknown field", `{"jsonrpc":"2.0","id":16,"method":"seat.leave","params":{"force":true}}`, "16", -32602, "invalid_params"},
		{"kick no user", `{"jsonrpc":"2.0","id":17,"method":"seat.kick","params":{"userId":""}}`, "17", -32602, "invalid_params"},
		{"mute bad kind", `{"jsonrpc":"2.0","id":18,"method":"media.setMuted","params":{"kind":"smell","muted":true}}`, "18", -32602, "invalid_params"},
		{"lock bool as string", `{"jsonrpc":"2.0","id":19,"method":"seat.lock","params":{"seatIndex":1,"lockSeat":"yes"}}`, "19", -32602, "invalid_params"},
		{"members limit", `{"jsonrpc":"2.0","id":20,"method":"room.members","params":{"limit":1000}}`, "20", -32602, "invalid_params"},
		{"rejoin", `{"jsonrpc":"2.0","id":21,"method":"room.join","params":{}}`, "21", -32602, "invalid_params"},
		{"message both", `{"jsonrpc":"2.0","id":22,"method":"room.sendMessage","params":{"text":"a","cmd":"b"}}`, "22", -32602, "invalid_params"},
		{"message too long", `{"jsonrpc":"2.0","id":23,"method":"room.sendMessage","params":{"text":"` + strings.Repeat("x", 1025) + `"}}`, "23", -32602, "invalid_params"},
		{"candidate no pc", `{"jsonrpc":"2.0","id":24,"method":"rtc.candidate","params":{"pc":"x","candidate":{"candidate":""}}}`, "24", -32602, "invalid_params"},
		{"publish no sdp", `{"jsonrpc":"2.0","id":25,"method":"rtc.publish","params":{}}`, "25", -32602, "invalid_params"},
	}
	for _, tc := range cases {
		r, err := viewer.SendRaw(ctx, tc.id, []byte(tc.frame))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if r.Error == nil || r.Error.Code != tc.code || string(r.Error.Data.Reason) != tc.reason || r.Error.Message == "" {
			t.Fatalf("%s: got %+v, want %d %s", tc.name, r.Error, tc.code, tc.reason)
		}
	}
	// A binary frame is not a request either, but its id, when readable,
	// is answered so the client can match the error.
	r, err := viewer.Exchange(ctx, websocket.MessageBinary, "1", []byte(`{"jsonrpc":"2.0","id":1,"method":"seat.leave"}`))
	if err != nil || r.Error == nil || r.Error.Code != -32600 {
		t.Fatalf("binary frame: %+v %v", r.Error, err)
	}
	// Still open, still a member, nothing seated: every refusal left the room as it was.
	if ids := memberIDs(t, viewer); len(ids) != 2 {
		t.Fatalf("members %v", ids)
	}
	if n := viewer.Count("seat.changed") + owner.Count("seat.changed"); n != 0 {
		t.Fatalf("%d seat.changed after refused frames", n)
	}
}
