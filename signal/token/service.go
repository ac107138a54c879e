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
	c := claims{Role: RoleService, RegisteredClaims: jwt.RegisteredClaims{Subject: name}}
	return signClaims(secret, c, c.validService, ttl, now)
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
	if c.Role != RoleService && c.validMember() == nil {
		return "", ErrUserToken
	}
	if err := c.validService(); err != nil {
		return "", err
	}
	return c.Subject, nil
}

// validService applies PROTOCOL.md §11's rules of a service token: role
// service, a backend's name, no room.
func (c claims) validService() error {
	if c.Role != RoleService {
		return fmt.Errorf("%w: role %q is not service", ErrInvalidToken, c.Role)
	}
	if c.Room != "" {
		return fmt.Errorf("%w: a service token names no room", ErrInvalidToken)
	}
	return validID("sub", c.Subject)
}
