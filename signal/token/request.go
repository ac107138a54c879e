package token

import (
	"net/http"
	"strings"
)

// FromRequest takes the raw token from "Authorization: Bearer …" or, for
// clients that cannot set headers (browsers opening a WebSocket), from
// ?token=. A header that is not a bearer token yields "".
func FromRequest(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		const prefix = "bearer "
		if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
			return strings.TrimSpace(h[len(prefix):])
		}
		return ""
	}
	return r.URL.Query().Get("token")
}
