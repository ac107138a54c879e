package whip

import (
	"net/http"
	"testing"

	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// The media server over its egress budget refuses a WHEP player the way
// the edge's subscriber cap does: 503, and rtc.subscribe's overloaded.
func TestMediaOverloadIsTheSubscriberCapsRefusal(t *testing.T) {
	if got := statusOf(sfu.ErrOverloaded); got != http.StatusServiceUnavailable {
		t.Fatalf("WHEP status %d for sfu.ErrOverloaded, want 503", got)
	}
	if proto.Reason(sfu.ErrOverloaded.Reason) != proto.ReasonOverloaded {
		t.Fatalf("reason %q, want %q", sfu.ErrOverloaded.Reason, proto.ReasonOverloaded)
	}
}
