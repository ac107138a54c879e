package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// WebhookSignatureHeader is the header a seatsfu webhook is signed in
// (PROTOCOL.md §11): "t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
// "<t>." + body)>".
const WebhookSignatureHeader = "Seatsfu-Signature"

// DefaultWebhookTolerance is how far a signature's timestamp may be from
// the receiver's clock by default. A retry is signed afresh, so this only
// has to cover clock skew and transit, not the retries' backoff.
const DefaultWebhookTolerance = 5 * time.Minute

// ErrWebhookSignature is returned (wrapped) for a webhook that is not
// signed with the secret, was changed on the way, or is too old.
var ErrWebhookSignature = errors.New("seatsfu webhook: bad signature")

// WebhookEvent is one webhook as the server sends it. Data is the event's
// own object, to decode by Event (see proto.Webhook*).
type WebhookEvent struct {
	ID        string          `json:"id"` // the same on every retry: deduplicate by it
	Event     string          `json:"event"`
	CreatedAt int64           `json:"createdAt"` // unix ms
	RoomID    string          `json:"roomId"`
	Data      json.RawMessage `json:"data"`
}

// VerifyWebhook checks header (the Seatsfu-Signature value) against body:
// the HMAC must match and the timestamp be within tolerance of now (0
// skips the time check). It compares in constant time.
func VerifyWebhook(secret []byte, header string, body []byte, tolerance time.Duration, now time.Time) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("%w: malformed header %q", ErrWebhookSignature, header)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	want := mac.Sum(nil)
	ok := false
	for _, s := range sigs {
		got, err := hex.DecodeString(s)
		if err == nil && hmac.Equal(got, want) {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("%w: no v1 signature matches the body", ErrWebhookSignature)
	}
	if tolerance > 0 {
		if d := now.Sub(time.Unix(t, 0)); d > tolerance || d < -tolerance {
			return fmt.Errorf("%w: signed %v away from now", ErrWebhookSignature, d.Round(time.Second))
		}
	}
	return nil
}

// ParseWebhook reads a webhook request (at most 1 MiB), verifies its
// signature with DefaultWebhookTolerance and decodes it. A receiver should
// answer 2xx only after it has stored the event: the server retries
// anything else, with the same id.
func ParseWebhook(secret []byte, r *http.Request) (WebhookEvent, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return WebhookEvent{}, err
	}
	if err := VerifyWebhook(secret, r.Header.Get(WebhookSignatureHeader), body, DefaultWebhookTolerance, time.Now()); err != nil {
		return WebhookEvent{}, err
	}
	var ev WebhookEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return WebhookEvent{}, fmt.Errorf("seatsfu webhook: body: %w", err)
	}
	return ev, nil
}
