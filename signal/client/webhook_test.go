package client_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/webhook"
)

// The SDK's check accepts exactly what the server's webhook.Sign produces.
func TestVerifyWebhook(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	body := []byte(`{"id":"evt_1","event":"room.started","createdAt":1,"roomId":"r","data":{}}`)
	now := time.Unix(1_800_000_000, 0)
	header := webhook.Sign(secret, now.Unix(), body)
	if err := client.VerifyWebhook(secret, header, body, time.Minute, now); err != nil {
		t.Fatalf("a good signature: %v", err)
	}
	tampered := []byte(strings.Replace(string(body), `"r"`, `"x"`, 1))
	for name, c := range map[string]struct {
		secret []byte
		header string
		body   []byte
		now    time.Time
	}{
		"tampered body": {secret, header, tampered, now},
		"wrong secret":  {[]byte("other"), header, body, now},
		"too old":       {secret, header, body, now.Add(2 * time.Minute)},
		"no v1":         {secret, "t=1800000000", body, now},
		"garbage":       {secret, "nonsense", body, now},
		"bad hex":       {secret, "t=1800000000,v1=zz", body, now},
	} {
		if err := client.VerifyWebhook(c.secret, c.header, c.body, time.Minute, c.now); !errors.Is(err, client.ErrWebhookSignature) {
			t.Errorf("%s: %v, want ErrWebhookSignature", name, err)
		}
	}
	// A rotated secret: either v1 may match.
	two := header + ",v1=" + strings.Repeat("0", 64)
	if err := client.VerifyWebhook(secret, two, body, 0, now); err != nil {
		t.Fatalf("two signatures: %v", err)
	}

	req := httptest.NewRequest("POST", "/hook", strings.NewReader(string(body)))
	req.Header.Set(client.WebhookSignatureHeader, webhook.Sign(secret, time.Now().Unix(), body))
	ev, err := client.ParseWebhook(secret, req)
	if err != nil || ev.ID != "evt_1" || ev.Event != "room.started" || ev.RoomID != "r" {
		t.Fatalf("ParseWebhook = %+v, %v", ev, err)
	}
}
