package token

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// checkClaimTypes refuses a payload whose claims have the wrong JSON types.
// The JWT library is lenient where the contract is not: it reads
// "exp": "1900000000" (a string) as a date, so a token minted by a sloppy
// issuer would work here and fail elsewhere. The time claims must be JSON
// numbers, the identity claims JSON strings; other claims (iss, aud, jti,
// an issuer's own) are not ours to judge.
func checkClaimTypes(raw string) error {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return fmt.Errorf("%w: not three segments", ErrInvalidToken)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return fmt.Errorf("%w: payload encoding: %v", ErrInvalidToken, err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(payload, &fields); err != nil {
		return fmt.Errorf("%w: payload is not a JSON object", ErrInvalidToken)
	}
	for _, k := range []string{"exp", "nbf", "iat"} {
		if v, ok := fields[k]; ok && !isNumber(v) {
			return fmt.Errorf("%w: %s must be a number", ErrInvalidToken, k)
		}
	}
	for _, k := range []string{"sub", "room", "role", "name", "avatar"} {
		if v, ok := fields[k]; ok && !isString(v) {
			return fmt.Errorf("%w: %s must be a string", ErrInvalidToken, k)
		}
	}
	return nil
}

func isNumber(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9')
}

func isString(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) > 0 && v[0] == '"'
}
