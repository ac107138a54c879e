package token

import (
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// BenchmarkVerify is the cost every WebSocket upgrade and WHIP/WHEP request
// pays before any room state is touched.
func BenchmarkVerify(b *testing.B) {
	raw, err := mintAt(secret, Identity{UserID: "viewer-12345", Room: "live-1", Role: proto.RoleAudience, Name: "Viewer"}, time.Hour, t0)
	if err != nil {
		b.Fatal(err)
	}
	now := at(t0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := verifyAt(secret, raw, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMint(b *testing.B) {
	id := Identity{UserID: "viewer-12345", Room: "live-1", Role: proto.RoleAudience, Name: "Viewer"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := mintAt(secret, id, time.Hour, t0); err != nil {
			b.Fatal(err)
		}
	}
}
