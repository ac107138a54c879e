package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256>".
const SignatureHeader = "Seatsfu-Signature"

// Sign is the header value for body sent at unix second t: the HMAC covers
// "<t>." + body, so a captured request cannot be replayed later with a new
// timestamp, nor its body changed. The Go SDK's client.VerifyWebhook checks
// it on the receiving side.
func Sign(secret []byte, t int64, body []byte) string {
	ts := strconv.FormatInt(t, 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}
