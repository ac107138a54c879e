package token

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// ErrInvalidToken is wrapped by every error Verify and Mint return, so the
// edge can answer 401 with errors.Is whatever the precise cause.
var ErrInvalidToken = errors.New("invalid token")

// Limits of the claims (PROTOCOL.md §2) and of the token itself.
const (
	MaxIDLen     = 128 // sub and room
	MaxNameLen   = 64  // characters of name
	MaxAvatarLen = 512 // characters of avatar
	// MaxTokenLen bounds the raw token so a hostile client cannot make the
	// server decode megabytes of base64 before refusing it; real tokens are
	// well under 1 KiB.
	MaxTokenLen = 4096
	// Leeway is the clock skew tolerated on exp, nbf and iat: servers and
	// token issuers rarely agree to the second, and a token that becomes
	// valid a moment "in the future" should not bounce.
	Leeway = 5 * time.Second
)

// Identity is what a valid token says about its bearer.
type Identity struct {
	UserID  string
	Room    string
	Name    string
	Avatar  string
	Role    proto.Role
	Expires time.Time
}

// claims is the token's JSON payload.
type claims struct {
	Room   string `json:"room"`
	Role   string `json:"role"`
	Name   string `json:"name,omitempty"`
	Avatar string `json:"avatar,omitempty"`
	jwt.RegisteredClaims
}

// Mint signs a token for id that expires ttl from now. It refuses an
// identity Verify would refuse, so a minted token is always usable.
func Mint(secret []byte, id Identity, ttl time.Duration) (string, error) {
	return mintAt(secret, id, ttl, time.Now())
}

func mintAt(secret []byte, id Identity, ttl time.Duration, now time.Time) (string, error) {
	c := claims{
		Room:             id.Room,
		Role:             string(id.Role),
		Name:             id.Name,
		Avatar:           id.Avatar,
		RegisteredClaims: jwt.RegisteredClaims{Subject: id.UserID},
	}
	return signClaims(secret, c, c.validMember, ttl, now)
}

// signClaims is the one signing path of member and service tokens: it
// refuses an empty secret, a non-positive ttl and claims that check (the
// verifier's own rule) refuses, then stamps iat and exp.
func signClaims(secret []byte, c claims, check func() error, ttl time.Duration, now time.Time) (string, error) {
	if len(secret) == 0 {
		return "", fmt.Errorf("%w: empty secret", ErrInvalidToken)
	}
	if ttl <= 0 {
		return "", fmt.Errorf("%w: ttl must be positive, got %v", ErrInvalidToken, ttl)
	}
	if err := check(); err != nil {
		return "", err
	}
	c.IssuedAt = jwt.NewNumericDate(now)
	c.ExpiresAt = jwt.NewNumericDate(now.Add(ttl))
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("%w: sign: %v", ErrInvalidToken, err)
	}
	return raw, nil
}

// Verify checks raw's signature with secret and its claims, and returns the
// identity it carries. Whether the token is for the room being entered is
// the caller's check (Identity.Room).
func Verify(secret []byte, raw string) (Identity, error) {
	return verifyAt(secret, raw, time.Now)
}

func verifyAt(secret []byte, raw string, now func() time.Time) (Identity, error) {
	c, err := parse(secret, raw, now)
	if err != nil {
		return Identity{}, err
	}
	if err := c.validMember(); err != nil {
		return Identity{}, err
	}
	return Identity{
		UserID:  c.Subject,
		Room:    c.Room,
		Name:    c.Name,
		Avatar:  c.Avatar,
		Role:    proto.Role(c.Role),
		Expires: c.ExpiresAt.Time,
	}, nil
}

// parse is the one verification path of member and service tokens: it
// checks the signature, algorithm, times and claim types, not what the
// claims say (validMember, validService).
func parse(secret []byte, raw string, now func() time.Time) (claims, error) {
	if len(secret) == 0 {
		return claims{}, fmt.Errorf("%w: no secret configured", ErrInvalidToken)
	}
	if raw == "" {
		return claims{}, fmt.Errorf("%w: missing", ErrInvalidToken)
	}
	if len(raw) > MaxTokenLen {
		return claims{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, MaxTokenLen)
	}
	var c claims
	_, err := jwt.ParseWithClaims(raw, &c,
		func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(now),
	)
	if err != nil {
		return claims{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if err := checkClaimTypes(raw); err != nil { // strict.go
		return claims{}, err
	}
	return c, nil
}

// validMember applies PROTOCOL.md §2's claim rules of a room member.
func (c claims) validMember() error {
	return validate(c.Subject, c.Room, c.Role, c.Name, c.Avatar)
}

// validate applies the claim rules of PROTOCOL.md §2.
func validate(sub, room, role, name, avatar string) error {
	if err := validID("sub", sub); err != nil {
		return err
	}
	if err := validID("room", room); err != nil {
		return err
	}
	switch proto.Role(role) {
	case proto.RoleOwner, proto.RoleAdmin, proto.RoleAudience:
	default:
		return fmt.Errorf("%w: role %q is not owner, admin or audience", ErrInvalidToken, role)
	}
	if err := validText("name", name, MaxNameLen); err != nil {
		return err
	}
	return validText("avatar", avatar, MaxAvatarLen)
}

// ValidID reports whether s is a valid user or room id: 1–128 characters of
// [A-Za-z0-9_.-]. The edge uses it for ids that arrive outside tokens (URL
// paths, params).
func ValidID(s string) bool { return validID("id", s) == nil }

func validID(field, s string) error {
	if s == "" {
		return fmt.Errorf("%w: %s is missing", ErrInvalidToken, field)
	}
	if len(s) > MaxIDLen {
		return fmt.Errorf("%w: %s is longer than %d characters", ErrInvalidToken, field, MaxIDLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '.' || c == '-'
		if !ok {
			return fmt.Errorf("%w: %s has a character outside [A-Za-z0-9_.-] at byte %d", ErrInvalidToken, field, i)
		}
	}
	return nil
}

// validText bounds a free-text claim in characters (not bytes: a name in
// Chinese is as long as one in English) and refuses invalid UTF-8.
func validText(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidToken, field)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Errorf("%w: %s has %d characters, at most %d allowed", ErrInvalidToken, field, n, max)
	}
	return nil
}
