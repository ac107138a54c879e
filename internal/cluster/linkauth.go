package cluster

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Node-to-node links authenticate with the cluster's shared secret: the
// dialling node sends a short-lived HS256 JWT on the upgrade (see the
// package notes). Its audience is linkAudience, which no client token
// carries, and a client token lacks nothing a link token needs but that
// audience, so neither passes for the other. The token names the node it
// is for, so one captured on the way to one node opens no link to another.

const (
	// LinkTokenTTL is how long a link token is good for: long enough for a
	// dial, short enough that a captured one is soon useless.
	LinkTokenTTL = time.Minute
	linkAudience = "seatsfu-node"
	linkLeeway   = 5 * time.Second
	maxLinkToken = 2048
)

// ErrLinkAuth wraps every refusal of a link token.
var ErrLinkAuth = errors.New("cluster: node link not authenticated")

type linkClaims struct {
	To string `json:"to"`
	jwt.RegisteredClaims
}

// MintLinkToken signs the token node from presents when it dials node to.
func MintLinkToken(secret []byte, from, to string, now time.Time) (string, error) {
	if len(secret) == 0 {
		return "", fmt.Errorf("%w: empty secret", ErrLinkAuth)
	}
	if err := checkID("node", from); err != nil {
		return "", err
	}
	if err := checkID("node", to); err != nil {
		return "", err
	}
	c := linkClaims{To: to, RegisteredClaims: jwt.RegisteredClaims{
		Subject:   from,
		Audience:  jwt.ClaimStrings{linkAudience},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(LinkTokenTTL)),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
}

// VerifyLinkToken checks a link token presented to node self and returns
// the dialling node's id. Whether that node is live (in the registry) is
// the caller's check.
func VerifyLinkToken(secret []byte, raw, self string, now time.Time) (string, error) {
	if len(secret) == 0 {
		return "", fmt.Errorf("%w: no secret configured", ErrLinkAuth)
	}
	if raw == "" || len(raw) > maxLinkToken {
		return "", fmt.Errorf("%w: token missing or longer than %d bytes", ErrLinkAuth, maxLinkToken)
	}
	var c linkClaims
	_, err := jwt.ParseWithClaims(raw, &c,
		func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithAudience(linkAudience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(linkLeeway),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	switch {
	case err != nil:
		return "", fmt.Errorf("%w: %v", ErrLinkAuth, err)
	case c.To != self:
		return "", fmt.Errorf("%w: token is for node %q, not this node %q", ErrLinkAuth, c.To, self)
	case checkID("node", c.Subject) != nil:
		return "", fmt.Errorf("%w: bad dialling node id", ErrLinkAuth)
	case c.ExpiresAt.Sub(c.IssuedAt.Time) > LinkTokenTTL:
		return "", fmt.Errorf("%w: token lives longer than %v", ErrLinkAuth, LinkTokenTTL)
	}
	return c.Subject, nil
}
