// Package token mints and verifies the access tokens of PROTOCOL.md §2: HS256
// JWTs whose claims name a user, the one room it may enter and its role.
//
// Verify is the gate in front of every room: it accepts HS256 only (so a
// token cannot pick "none" or an asymmetric algorithm to dodge the secret),
// requires exp, honours nbf and iat, and checks every claim's shape before a
// caller sees the Identity. Every refusal wraps ErrInvalidToken.
package token
