package token

import (
	"errors"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// Claims of the wrong JSON type are refused even where the JWT library
// would coerce them; other claims keep whatever type their issuer chose.
func TestVerifyRefusesWrongClaimTypes(t *testing.T) {
	refused := map[string]jwt.MapClaims{
		"exp as string":  with("exp", "1893553445"),
		"iat as string":  with("iat", "1893549845"),
		"nbf as string":  with("nbf", "1893549845"),
		"exp as bool":    with("exp", true),
		"sub as number":  with("sub", 42),
		"room as array":  with("room", []string{"room-1"}),
		"role as object": with("role", map[string]string{"r": "owner"}),
		"name as number": with("name", 7),
		"avatar as bool": with("avatar", false),
	}
	for name, c := range refused {
		_, err := verifyAt(secret, sign(t, jwt.SigningMethodHS256, secret, c), at(t0))
		if !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: got %v, want ErrInvalidToken", name, err)
		}
	}
	c := good()
	c["aud"] = []string{"a", "b"}
	c["jti"] = "t-12"
	c["tenant"] = 12
	c["exp"] = float64(t0.Unix()) + 3600.5 // NumericDate may be fractional
	if _, err := verifyAt(secret, sign(t, jwt.SigningMethodHS256, secret, c), at(t0)); err != nil {
		t.Fatalf("valid token with foreign claims refused: %v", err)
	}
}
