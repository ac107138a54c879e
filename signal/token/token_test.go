package token

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/seatsfu/seatsfu/signal/proto"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	t0     = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
)

func at(t time.Time) func() time.Time { return func() time.Time { return t } }

// sign makes a token with arbitrary claims, so tests can build what Mint
// would refuse to.
func sign(t *testing.T, m jwt.SigningMethod, key any, c jwt.MapClaims) string {
	t.Helper()
	raw, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return raw
}

// good returns valid claims at t0, for a test to spoil one of.
func good() jwt.MapClaims {
	return jwt.MapClaims{
		"sub":  "alice",
		"room": "room-1",
		"role": "audience",
		"name": "Alice",
		"exp":  t0.Add(time.Hour).Unix(),
		"iat":  t0.Unix(),
	}
}

func with(k string, v any) jwt.MapClaims {
	c := good()
	if v == nil {
		delete(c, k)
	} else {
		c[k] = v
	}
	return c
}

func TestMintVerifyRoundTrip(t *testing.T) {
	id := Identity{UserID: "u_1.x-Y", Room: "R.2", Name: "王小明 🎤", Avatar: "https://a.example/x.png", Role: proto.RoleOwner}
	raw, err := mintAt(secret, id, time.Hour, t0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := verifyAt(secret, raw, at(t0.Add(59*time.Minute)))
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	id.Expires = t0.Add(time.Hour)
	if !got.Expires.Equal(id.Expires) {
		t.Fatalf("expires %v, want %v", got.Expires, id.Expires)
	}
	got.Expires = id.Expires
	if got != id {
		t.Fatalf("got %+v, want %+v", got, id)
	}
	if got.Role != proto.RoleOwner {
		t.Fatalf("role %q", got.Role)
	}
}

func TestPublicMintVerify(t *testing.T) {
	raw, err := Mint(secret, Identity{UserID: "bob", Room: "r", Role: proto.RoleAdmin}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	id, err := Verify(secret, raw)
	if err != nil {
		t.Fatal(err)
	}
	if id.UserID != "bob" || id.Room != "r" || id.Role != proto.RoleAdmin {
		t.Fatalf("got %+v", id)
	}
	if d := time.Until(id.Expires); d <= 0 || d > time.Minute+time.Second {
		t.Fatalf("expires in %v, want about 1m", d)
	}
}

func TestVerifyRefuses(t *testing.T) {
	noneTok := func() string {
		raw, err := jwt.NewWithClaims(jwt.SigningMethodNone, good()).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}()
	// An "alg: none" header with the HS256 signature still attached.
	hs := sign(t, jwt.SigningMethodHS256, secret, good())
	parts := strings.Split(hs, ".")
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	hsHeaderNone := noneHeader + "." + parts[1] + "." + parts[2]

	tests := []struct {
		name string
		raw  string
		now  time.Time
		want string // a fragment of the error
	}{
		{"empty", "", t0, "missing"},
		{"garbage", "not-a-jwt", t0, "malformed"},
		{"two segments", parts[0] + "." + parts[1], t0, "malformed"},
		{"bad base64 payload", parts[0] + ".!!!." + parts[2], t0, "malformed"},
		{"too long", strings.Repeat("a", MaxTokenLen+1), t0, "longer than"},
		{"wrong secret", sign(t, jwt.SigningMethodHS256, []byte("another secret"), good()), t0, "signature"},
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"mallory","room":"room-1","role":"owner","exp":9999999999}`)) + "." + parts[2], t0, "signature"},
		{"alg none", noneTok, t0, "signing method"},
		{"alg none header, hs256 signature", hsHeaderNone, t0, "signing method"},
		{"HS384", sign(t, jwt.SigningMethodHS384, secret, good()), t0, "signing method"},
		{"HS512", sign(t, jwt.SigningMethodHS512, secret, good()), t0, "signing method"},
		{"no exp", sign(t, jwt.SigningMethodHS256, secret, with("exp", nil)), t0, "exp"},
		{"exp not a number", sign(t, jwt.SigningMethodHS256, secret, with("exp", "tomorrow")), t0, "malformed"},
		{"expired", sign(t, jwt.SigningMethodHS256, secret, good()), t0.Add(time.Hour + Leeway + time.Second), "expired"},
		{"nbf in future", sign(t, jwt.SigningMethodHS256, secret, with("nbf", t0.Add(time.Minute).Unix())), t0, "not valid yet"},
		{"iat in future", sign(t, jwt.SigningMethodHS256, secret, with("iat", t0.Add(time.Minute).Unix())), t0, "before issued"},
		{"no sub", sign(t, jwt.SigningMethodHS256, secret, with("sub", nil)), t0, "sub is missing"},
		{"empty sub", sign(t, jwt.SigningMethodHS256, secret, with("sub", "")), t0, "sub is missing"},
		{"sub not a string", sign(t, jwt.SigningMethodHS256, secret, with("sub", 42)), t0, "sub"},
		{"sub with space", sign(t, jwt.SigningMethodHS256, secret, with("sub", "a b")), t0, "sub has a character"},
		{"sub with slash", sign(t, jwt.SigningMethodHS256, secret, with("sub", "a/b")), t0, "sub has a character"},
		{"sub non-ascii", sign(t, jwt.SigningMethodHS256, secret, with("sub", "ü")), t0, "sub has a character"},
		{"sub 129 chars", sign(t, jwt.SigningMethodHS256, secret, with("sub", strings.Repeat("a", 129))), t0, "sub is longer"},
		{"no room", sign(t, jwt.SigningMethodHS256, secret, with("room", nil)), t0, "room is missing"},
		{"room with colon", sign(t, jwt.SigningMethodHS256, secret, with("room", "r:1")), t0, "room has a character"},
		{"room 129 chars", sign(t, jwt.SigningMethodHS256, secret, with("room", strings.Repeat("r", 129))), t0, "room is longer"},
		{"room not a string", sign(t, jwt.SigningMethodHS256, secret, with("room", []string{"a"})), t0, "malformed"},
		{"no role", sign(t, jwt.SigningMethodHS256, secret, with("role", nil)), t0, "role"},
		{"role guest", sign(t, jwt.SigningMethodHS256, secret, with("role", "guest")), t0, "role"},
		{"role Owner", sign(t, jwt.SigningMethodHS256, secret, with("role", "Owner")), t0, "role"},
		{"name 65 chars", sign(t, jwt.SigningMethodHS256, secret, with("name", strings.Repeat("n", 65))), t0, "name has 65"},
		{"name 65 runes", sign(t, jwt.SigningMethodHS256, secret, with("name", strings.Repeat("名", 65))), t0, "name has 65"},
		{"avatar 513 chars", sign(t, jwt.SigningMethodHS256, secret, with("avatar", strings.Repeat("x", 513))), t0, "avatar has 513"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := verifyAt(secret, tc.raw, at(tc.now))
			if err == nil {
				t.Fatalf("accepted: %+v", id)
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %v does not wrap ErrInvalidToken", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
			if id != (Identity{}) {
				t.Fatalf("refusal returned an identity: %+v", id)
			}
		})
	}
}

func TestVerifyAccepts(t *testing.T) {
	tests := []struct {
		name string
		c    jwt.MapClaims
		now  time.Time
	}{
		{"minimal", jwt.MapClaims{"sub": "a", "room": "b", "role": "admin", "exp": t0.Add(time.Second).Unix()}, t0},
		{"128-char ids", with("sub", strings.Repeat("a", 128)), t0},
		{"all id characters", with("room", "AZaz09_.-"), t0},
		{"name 64 runes", with("name", strings.Repeat("名", 64)), t0},
		{"avatar 512 chars", with("avatar", strings.Repeat("x", 512)), t0},
		{"owner", with("role", "owner"), t0},
		{"nbf now", with("nbf", t0.Unix()), t0},
		{"nbf within leeway", with("nbf", t0.Add(Leeway-time.Second).Unix()), t0},
		{"iat within leeway", with("iat", t0.Add(Leeway-time.Second).Unix()), t0},
		{"expired within leeway", good(), t0.Add(time.Hour + Leeway - time.Second)},
		{"unknown claims ignored", with("iss", "someone"), t0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := sign(t, jwt.SigningMethodHS256, secret, tc.c)
			id, err := verifyAt(secret, raw, at(tc.now))
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if id.UserID != tc.c["sub"] || id.Room != tc.c["room"] || string(id.Role) != tc.c["role"] {
				t.Fatalf("identity %+v does not match claims %v", id, tc.c)
			}
		})
	}
}

func TestVerifyNeedsSecret(t *testing.T) {
	raw := sign(t, jwt.SigningMethodHS256, secret, good())
	if _, err := verifyAt(nil, raw, at(t0)); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("empty secret: %v", err)
	}
	// A token signed with the empty key must not pass a server whose secret
	// is empty either.
	emptyKeyed := sign(t, jwt.SigningMethodHS256, []byte{}, good())
	if _, err := verifyAt([]byte{}, emptyKeyed, at(t0)); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("empty-key token: %v", err)
	}
}

func TestMintRefuses(t *testing.T) {
	ok := Identity{UserID: "u", Room: "r", Role: proto.RoleAudience}
	tests := []struct {
		name   string
		secret []byte
		id     Identity
		ttl    time.Duration
		want   string
	}{
		{"no secret", nil, ok, time.Hour, "secret"},
		{"zero ttl", secret, ok, 0, "ttl"},
		{"negative ttl", secret, ok, -time.Second, "ttl"},
		{"no user", secret, Identity{Room: "r", Role: proto.RoleOwner}, time.Hour, "sub is missing"},
		{"bad user", secret, Identity{UserID: "a b", Room: "r", Role: proto.RoleOwner}, time.Hour, "sub has"},
		{"no room", secret, Identity{UserID: "u", Role: proto.RoleOwner}, time.Hour, "room is missing"},
		{"bad role", secret, Identity{UserID: "u", Room: "r", Role: "host"}, time.Hour, "role"},
		{"long name", secret, Identity{UserID: "u", Room: "r", Role: proto.RoleOwner, Name: strings.Repeat("n", 65)}, time.Hour, "name"},
		{"long avatar", secret, Identity{UserID: "u", Room: "r", Role: proto.RoleOwner, Avatar: strings.Repeat("a", 513)}, time.Hour, "avatar"},
		{"bad utf-8 name", secret, Identity{UserID: "u", Room: "r", Role: proto.RoleOwner, Name: "\xff"}, time.Hour, "UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := mintAt(tc.secret, tc.id, tc.ttl, t0)
			if err == nil || raw != "" {
				t.Fatalf("minted %q", raw)
			}
			if !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want ErrInvalidToken mentioning %q", err, tc.want)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	for s, want := range map[string]bool{
		"a": true, "A-Z_0.9": true, strings.Repeat("x", 128): true,
		"": false, strings.Repeat("x", 129): false, "a b": false, "a/b": false, "é": false, "a\x00": false,
	} {
		if got := ValidID(s); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", s, got, want)
		}
	}
}
