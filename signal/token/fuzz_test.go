package token

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// FuzzVerify feeds Verify arbitrary strings: it must never panic, every
// refusal must wrap ErrInvalidToken, and whatever it accepts must satisfy
// every claim rule (so a mutated token can never smuggle in a bad identity).
func FuzzVerify(f *testing.F) {
	now := at(t0)
	for _, c := range []jwt.MapClaims{good(), with("nbf", t0.Unix()), with("role", "owner"), with("name", "名字")} {
		raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, raw string) {
		id, err := verifyAt(secret, raw, now)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %v does not wrap ErrInvalidToken", err)
			}
			return
		}
		if validate(id.UserID, id.Room, string(id.Role), id.Name, id.Avatar) != nil {
			t.Fatalf("accepted an invalid identity: %+v", id)
		}
		switch id.Role {
		case proto.RoleOwner, proto.RoleAdmin, proto.RoleAudience:
		default:
			t.Fatalf("role %q", id.Role)
		}
		if !id.Expires.After(t0.Add(-Leeway - time.Second)) {
			t.Fatalf("accepted an expired token: %v", id.Expires)
		}
	})
}
