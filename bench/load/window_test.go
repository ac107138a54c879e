package load

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// A window's counters are the two scrapes' differences; the direct and
// Pion egress packets are told apart by their label, and datagrams per
// entry and per sendmmsg follow from them.
func TestServerWindowIsTheScrapesDifference(t *testing.T) {
	var direct, msgs, gc float64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "# HELP go_gc_duration_seconds x\ngo_gc_duration_seconds{quantile=\"0.5\"} 0.001\ngo_gc_duration_seconds_sum %g\ngo_gc_duration_seconds_count %g\n", gc/1000, gc)
		fmt.Fprintf(w, "seatsfu_egress_packets_total{path=\"direct\"} %g\nseatsfu_egress_packets_total{path=\"pion\"} 7\n", direct)
		fmt.Fprintf(w, "seatsfu_egress_messages_total %g\nseatsfu_egress_batches_total %g\nseatsfu_replays_active 2\n", msgs, msgs/4)
	}))
	defer srv.Close()
	s0, err := snapshotCounters(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	direct, msgs, gc = 3000, 1000, 5
	s1, err := snapshotCounters(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	w := serverWindow(s0, s1)
	if w == nil {
		t.Fatal("no window from a server with egress counters")
	}
	if w.Datagrams != 3000 || w.PionPackets != 0 || w.Messages != 1000 || w.GCCycles != 5 || w.ReplaysAtStart != 2 {
		t.Fatalf("window %+v", *w)
	}
	if w.PerMessage() != 3 || w.PerSend() != 12 {
		t.Fatalf("per message %.2f, per send %.2f; want 3 and 12", w.PerMessage(), w.PerSend())
	}
	if got := w.GCPauseMs; got < 4.99 || got > 5.01 {
		t.Fatalf("pause %.3f ms, want 5", got)
	}
}

// A target without the egress families (a baseline) has no window.
func TestServerWindowNeedsEgressCounters(t *testing.T) {
	if w := serverWindow(counterSnapshot{"go_gc_duration_seconds_count": 1}, counterSnapshot{"go_gc_duration_seconds_count": 3}); w != nil {
		t.Fatalf("window %+v from a server without egress counters", *w)
	}
}

// The window waits for the joins' replays to end, and not at all on a
// server without the gauge.
func TestAwaitJoinsDoneWaitsForTheReplays(t *testing.T) {
	var scrapes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		active := 0
		if scrapes.Add(1) <= 3 {
			active = 2
		}
		fmt.Fprintf(w, "seatsfu_replays_active %d\n", active)
	}))
	defer srv.Close()
	if _, err := awaitJoinsDone(context.Background(), Server{BaseURL: srv.URL}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := scrapes.Load(); got != 4 {
		t.Fatalf("%d scrapes, want 4 (three with replays running, then none)", got)
	}

	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "go_goroutines 7")
	}))
	defer bare.Close()
	waited, err := awaitJoinsDone(context.Background(), Server{BaseURL: bare.URL}, 10*time.Second)
	if err != nil || waited > 5*time.Second {
		t.Fatalf("waited %v (%v) on a server without the gauge", waited, err)
	}
}
