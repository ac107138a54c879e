package token

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/seatsfu/seatsfu/signal/proto"
)

func TestServiceTokens(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	raw, err := MintService(secret, "billing-backend", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	name, err := VerifyService(secret, raw)
	if err != nil || name != "billing-backend" {
		t.Fatalf("VerifyService = %q, %v", name, err)
	}
	// A service token opens no room: Verify refuses it like any bad token.
	if _, err := Verify(secret, raw); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Verify(service token) = %v, want invalid", err)
	}
	user, err := Mint(secret, Identity{UserID: "ann", Room: "r", Role: proto.RoleAudience}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyService(secret, user); !errors.Is(err, ErrUserToken) || errors.Is(err, ErrInvalidToken) {
		t.Fatalf("VerifyService(user token) = %v, want ErrUserToken only", err)
	}
	other, _ := MintService([]byte("another secret another secret 32"), "x", time.Hour)
	expired, _ := mintServiceAt(secret, "x", time.Minute, time.Now().Add(-time.Hour))
	for name, bad := range map[string]string{"empty": "", "garbage": "abc", "wrong secret": other, "expired": expired} {
		if _, err := VerifyService(secret, bad); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: VerifyService = %v, want invalid", name, err)
		}
	}
	// A "service" token that names a room is malformed.
	withRoom := sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{
		"sub": "x", "room": "r", "role": RoleService, "exp": time.Now().Add(time.Hour).Unix(),
	})
	if _, err := VerifyService(secret, withRoom); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("service token with a room: %v", err)
	}
	// Service tokens pass the claim-type checks of members' (strict.go).
	stringExp := sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{
		"sub": "x", "role": RoleService, "exp": strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10),
	})
	if _, err := VerifyService(secret, stringExp); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("service token with exp as a string: %v", err)
	}
	if _, err := MintService(secret, "bad name!", time.Hour); err == nil {
		t.Error("minted a service token with a bad name")
	}
}
