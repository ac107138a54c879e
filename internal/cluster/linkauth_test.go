package cluster

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/token"
)

var (
	linkSecret = []byte("cluster-secret")
	linkNow    = time.Unix(1_700_000_000, 0)
)

// TestLinkToken: a token minted by a for b opens b's listener and names a;
// it opens no other node's, is refused with another secret, after its
// expiry, or with a lifetime longer than LinkTokenTTL.
func TestLinkToken(t *testing.T) {
	raw, err := MintLinkToken(linkSecret, "a", "b", linkNow)
	if err != nil {
		t.Fatal(err)
	}
	if from, err := VerifyLinkToken(linkSecret, raw, "b", linkNow.Add(30*time.Second)); err != nil || from != "a" {
		t.Fatalf("verify = %q, %v", from, err)
	}
	refuse := func(name, raw, self string, now time.Time, secret []byte) {
		t.Helper()
		if from, err := VerifyLinkToken(secret, raw, self, now); !errors.Is(err, ErrLinkAuth) {
			t.Errorf("%s: verify = %q, %v; want ErrLinkAuth", name, from, err)
		}
	}
	refuse("other node", raw, "c", linkNow, linkSecret)
	refuse("other secret", raw, "b", linkNow, []byte("nope"))
	refuse("expired", raw, "b", linkNow.Add(LinkTokenTTL+linkLeeway+time.Second), linkSecret)
	refuse("empty", "", "b", linkNow, linkSecret)
	refuse("no secret", raw, "b", linkNow, nil)

	long, err := jwt.NewWithClaims(jwt.SigningMethodHS256, linkClaims{To: "b", RegisteredClaims: jwt.RegisteredClaims{
		Subject: "a", Audience: jwt.ClaimStrings{linkAudience},
		IssuedAt: jwt.NewNumericDate(linkNow), ExpiresAt: jwt.NewNumericDate(linkNow.Add(time.Hour)),
	}}).SignedString(linkSecret)
	if err != nil {
		t.Fatal(err)
	}
	refuse("long-lived", long, "b", linkNow, linkSecret)
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, linkClaims{To: "b", RegisteredClaims: jwt.RegisteredClaims{
		Subject: "a", Audience: jwt.ClaimStrings{linkAudience},
		IssuedAt: jwt.NewNumericDate(linkNow), ExpiresAt: jwt.NewNumericDate(linkNow.Add(time.Minute)),
	}}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	refuse("alg none", none, "b", linkNow, linkSecret)
}

// TestLinkAndClientTokensDoNotMix: with one shared secret, a client's
// access token opens no node link and a link token enters no room.
func TestLinkAndClientTokensDoNotMix(t *testing.T) {
	client, err := token.Mint(linkSecret, token.Identity{UserID: "b", Room: "r1", Role: proto.RoleOwner}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if from, err := VerifyLinkToken(linkSecret, client, "b", time.Now()); !errors.Is(err, ErrLinkAuth) {
		t.Fatalf("a client token opened a link as %q (%v)", from, err)
	}
	link, err := MintLinkToken(linkSecret, "a", "b", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if id, err := token.Verify(linkSecret, link); err == nil {
		t.Fatalf("a link token entered room %q as %q", id.Room, id.UserID)
	}
}
