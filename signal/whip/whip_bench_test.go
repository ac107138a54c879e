package whip_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// BenchmarkWHIPSession is one WHIP session's HTTP life as the edge sees it:
// POST an offer (token check, SDP checks, seat check, the sfu's answer with
// ICE gathering) → 201, then DELETE → 200. The offer is built once.
func BenchmarkWHIPSession(b *testing.B) {
	benchSession(b, "whip", signaltest.NewPublisher(b).Offer)
}

// BenchmarkWHEPSession is the same for a one-pair WHEP player.
func BenchmarkWHEPSession(b *testing.B) {
	benchSession(b, "whep", signaltest.NewViewer(b, 1).Offer)
}

func benchSession(b *testing.B, kind, offer string) {
	clock := signaltest.NewClock()
	env := signaltest.Start(b, signaltest.WithClock(clock))
	tok := env.Token("live", "host", proto.RoleOwner)
	// Open the room (and keep the owner present) with a first session.
	if kind == "whep" {
		signaltest.MustCreate(b, env.PostSDP(b, "/whip/live", tok, signaltest.NewPublisher(b).Offer), "whip", "live")
	}
	b.ResetTimer()
	for range b.N {
		clock.Advance(time.Second) // refill the POST budget: this measures the work, not the limit
		res := env.PostSDP(b, "/"+kind+"/live", tok, offer)
		loc := signaltest.MustCreate(b, res, kind, "live")
		if del := signaltest.DoHTTP(b, http.MethodDelete, env.URL+loc, tok, "", ""); del.Status != http.StatusOK {
			b.Fatalf("DELETE: %d", del.Status)
		}
	}
}
