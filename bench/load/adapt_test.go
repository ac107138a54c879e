package load

import (
	"context"
	"testing"
	"time"
)

// The adapt scenario in miniature: three simulcast publishers, an uncapped
// viewer and one capped at 0.5 Mbit/s. The uncapped one receives every
// seat on high without a freeze; the capped one receives about its cap, on
// lower layers, and its audio never stops.
func TestSmokeAdaptSeatsfu(t *testing.T) {
	ctx := context.Background()
	tgt := startSeatsfu(t, "adapt")
	r, err := Adapt(ctx, tgt, AdaptConfig{Publishers: 3, Caps: []int64{0, 500_000}, Warmup: 8 * time.Second, Duration: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range r.Viewers {
		t.Logf("%s: %.2f Mbit/s, shares %v, freezes %v, audio gap %.0f ms", v.Name, v.RecvMbps, v.Shares, v.Freezes, v.AudioGapMs)
	}
	free, capped := r.Viewers[0], r.Viewers[1]
	for seat, s := range free.Shares {
		if s[2] < 0.9 || free.Freezes[seat] != 0 {
			t.Errorf("uncapped viewer, seat %d: high %.0f%% of the time, %d freezes", seat, 100*s[2], free.Freezes[seat])
		}
	}
	if capped.RecvMbps > 0.6 || capped.RecvMbps < 0.1 {
		t.Errorf("capped viewer received %.2f Mbit/s, its cap is 0.5", capped.RecvMbps)
	}
	for seat, s := range capped.Shares {
		if s[2] > 0.1 {
			t.Errorf("capped viewer, seat %d: high %.0f%% of the time", seat, 100*s[2])
		}
	}
	if capped.AudioGapMs > 500 {
		t.Errorf("capped viewer's audio stopped for %.0f ms", capped.AudioGapMs)
	}
}
