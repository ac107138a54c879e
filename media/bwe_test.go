package media

import (
	"testing"
	"time"

	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
)

// link simulates a bottleneck: capacity bit/s (0: unlimited) and a queue of
// queueBytes, 10 ms of propagation; it sends sendBps in 1200-byte packets
// for dur and feeds the estimator the feedback Pion's TWCC recorder (what
// a Pion subscriber sends) builds every 100 ms. It returns the estimate at
// the end.
func runLink(t *testing.T, e *DownlinkEstimator, seq *uint16, start time.Time, capacity, sendBps float64, queueBytes int, dur time.Duration) (int64, time.Time) {
	t.Helper()
	rec := twcc.NewRecorder(1)
	const size = 1200
	gap := time.Duration(float64(size*8) / sendBps * float64(time.Second))
	var queueFree time.Time // when the bottleneck is next free
	next := start.Add(100 * time.Millisecond)
	now := start
	for now.Before(start.Add(dur)) {
		e.Sent(*seq, now, size)
		arrive := now.Add(10 * time.Millisecond)
		if capacity > 0 {
			tx := time.Duration(float64(size*8) / capacity * float64(time.Second))
			if queueFree.Before(now) {
				queueFree = now
			}
			backlog := float64(queueFree.Sub(now).Seconds()) * capacity / 8
			if backlog+size > float64(queueBytes) {
				arrive = time.Time{} // dropped
			} else {
				queueFree = queueFree.Add(tx)
				arrive = queueFree.Add(10 * time.Millisecond)
			}
		}
		if !arrive.IsZero() {
			rec.Record(5, *seq, arrive.UnixMicro())
		} // a loss shows as a gap the recorder reports not received
		(*seq)++
		now = now.Add(gap)
		if !now.Before(next) {
			for _, p := range rec.BuildFeedbackPacket() {
				if fb, ok := p.(*rtcp.TransportLayerCC); ok {
					e.Feedback(fb, now.Add(10*time.Millisecond))
				}
			}
			next = next.Add(100 * time.Millisecond)
		}
	}
	bps, _ := e.Estimate()
	return bps, now
}

func TestEstimatorFindsTheBottleneck(t *testing.T) {
	e := NewDownlinkEstimator()
	var seq uint16
	start := time.Unix(1_800_000_000, 0)
	bps, now := runLink(t, e, &seq, start, 1e6, 3e6, 64<<10, 3*time.Second)
	loss, qd := e.Stats()
	if bps < 600_000 || bps > 1_100_000 {
		t.Fatalf("estimate %d bit/s over a 1 Mbit/s link sent 3 Mbit/s (loss %.2f, queue %v)", bps, loss, qd)
	}
	// Sending what fits, the estimate holds near the link (it may grow up
	// to the delivered rate's ceiling, then shrink again on queueing).
	bps, _ = runLink(t, e, &seq, now, 1e6, 0.8e6, 64<<10, 5*time.Second)
	if bps < 600_000 || bps > 2_000_000 {
		t.Fatalf("estimate %d bit/s sending 0.8 Mbit/s into 1 Mbit/s", bps)
	}
}

func TestEstimatorOnAFreeLinkGrows(t *testing.T) {
	e := NewDownlinkEstimator()
	var seq uint16
	start := time.Unix(1_800_000_000, 0)
	bps, _ := runLink(t, e, &seq, start, 0, 2e6, 0, 3*time.Second)
	if _, ok := e.Estimate(); ok {
		t.Fatal("a limit from a link that never showed congestion")
	}
	if bps < 2_000_000 {
		t.Fatalf("estimate %d bit/s on a free link carrying 2 Mbit/s", bps)
	}
	if loss, qd := e.Stats(); loss != 0 || qd > time.Millisecond {
		t.Fatalf("free link shows loss %.2f, queueing %v", loss, qd)
	}
}

func TestEstimatorUnknownWithoutFeedback(t *testing.T) {
	e := NewDownlinkEstimator()
	e.Sent(1, time.Now(), 1200)
	if _, ok := e.Estimate(); ok {
		t.Fatal("an estimate without feedback")
	}
	// Feedback about packets never sent changes nothing.
	rec := twcc.NewRecorder(1)
	for i := uint16(100); i < 200; i++ {
		rec.Record(5, i, int64(i)*1000)
	}
	for _, p := range rec.BuildFeedbackPacket() {
		e.Feedback(p.(*rtcp.TransportLayerCC), time.Now().Add(time.Second))
	}
	if _, ok := e.Estimate(); ok {
		t.Fatal("an estimate from feedback about unknown packets")
	}
}
