package token

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// RoleService is the role claim of a service token (PROTOCOL.md §11): the
// app's backend calling the server API. It names no room. Verify refuses
// such tokens (their role is not a member's), so they open no socket, WHIP
// or WHEP session.
const RoleService = "service"

// ErrUserToken is returned by VerifyService for a valid token of a room
// member: the bearer is known but may not use the server API (403, not 401).
var ErrUserToken = errors.New("a user token, not a service token")

// MintService signs a service token for the backend called name (§2's id
// charset) that expires ttl from now.
func MintService(secret []byte, name string, ttl time.Duration) (string, error) {
	return mintServiceAt(secret, name, ttl, time.Now())
}

func mintServiceAt(secret []byte, name string, ttl time.Duration, now time.Time) (string, error) {
	if len(secret) == 0 {
		return "", fmt.Errorf("%w: empty secret", ErrInvalidToken)
	}
	if ttl <= 0 {
		return "", fmt.Errorf("%w: ttl must be positive, got %v", ErrInvalidToken, ttl)
	}
	if err := validID("sub", name); err != nil {
		return "", err
	}
	c := claims{
		Role: RoleService,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   name,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("%w: sign: %v", ErrInvalidToken, err)
	}
	return raw, nil
}

// VerifyService checks a service token and returns the backend's name.
// A valid member token is ErrUserToken; anything else invalid wraps
// ErrInvalidToken.
func VerifyService(secret []byte, raw string) (string, error) {
	return verifyServiceAt(secret, raw, time.Now)
}

func verifyServiceAt(secret []byte, raw string, now func() time.Time) (string, error) {
	c, err := parse(secret, raw, now)
	if err != nil {
		return "", err
	}
	if c.Role != RoleService {
		if validate(c.Subject, c.Room, c.Role, c.Name, c.Avatar) == nil {
			return "", ErrUserToken
		}
		return "", fmt.Errorf("%w: role %q is not service", ErrInvalidToken, c.Role)
	}
	if c.Room != "" {
		return "", fmt.Errorf("%w: a service token names no room", ErrInvalidToken)
	}
	if err := validID("sub", c.Subject); err != nil {
		return "", err
	}
	return c.Subject, nil
}
