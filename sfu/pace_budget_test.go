package sfu

import (
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// budgetSlot is a slot the replay budget can queue and wake: its viewer has
// no writer pool, so a wake-up is a no-op.
func budgetSlot() *slot { return &slot{viewer: &viewer{}, kind: videoIdx} }

// The replay budget runs replays while their rates fit, first come first
// served: a small replay behind a big waiting one waits too (no
// overtaking), one replay always runs however big, and a replay that ends
// — or gives up waiting — hands the budget to the oldest waiting ones.
func TestReplayBudgetTakesTurnsInOrder(t *testing.T) {
	var b replayBudget
	m, _ := newOverloadMetrics("t")
	b.init(8*100, &m) // 100 bytes/s
	a, big, small, huge := budgetSlot(), budgetSlot(), budgetSlot(), budgetSlot()
	if !b.take(a, 60) {
		t.Fatal("the first replay must run")
	}
	if b.take(big, 50) {
		t.Fatal("60 + 50 > 100: the second must wait")
	}
	if b.take(small, 10) {
		t.Fatal("a replay that would fit must not overtake an older waiting one")
	}
	if got, want := gaugeValue(t, m.replaysWaiting), 2.0; got != want {
		t.Fatalf("replays_waiting %v, want %v", got, want)
	}
	if b.take(big, 50) || len(b.waiting) != 2 {
		t.Fatalf("asking again must neither run it nor queue it twice: %d waiting", len(b.waiting))
	}
	b.end(a) // 100 free: big (50) and small (10) both fit now, in order
	if _, ok := b.running[big]; !ok {
		t.Fatal("the oldest waiting replay did not get the freed budget")
	}
	if _, ok := b.running[small]; !ok {
		t.Fatal("the next waiting replay that fits did not get its turn")
	}
	if !b.take(big, 50) || !b.take(small, 10) {
		t.Fatal("a replay given its turn must run when its writer comes back")
	}
	if got := gaugeValue(t, m.replaysActive); got != 2 {
		t.Fatalf("replays_active %v, want 2", got)
	}
	// Over the whole budget alone: waits for the others, then runs alone.
	if b.take(huge, 500) {
		t.Fatal("500 over a busy budget of 100 must wait")
	}
	b.end(big)
	if _, ok := b.running[huge]; ok {
		t.Fatal("must wait while another replay runs")
	}
	b.end(small)
	if _, ok := b.running[huge]; !ok {
		t.Fatal("a replay bigger than the whole budget must run once it is alone")
	}
	// Giving up while waiting leaves the queue.
	if b.take(a, 10) {
		t.Fatal("must wait behind the huge one")
	}
	b.end(a)
	if len(b.waiting) != 0 {
		t.Fatalf("%d waiting after the only waiting replay gave up", len(b.waiting))
	}
	b.end(huge)
	if len(b.running) != 0 || b.used != 0 || gaugeValue(t, m.replaysActive) != 0 || gaugeValue(t, m.replaysWaiting) != 0 {
		t.Fatalf("budget not empty at the end: %d running, %.0f used", len(b.running), b.used)
	}
	// No budget: everything runs at once.
	var free replayBudget
	free.init(0, nil)
	for i := 0; i < 100; i++ {
		if !free.take(budgetSlot(), replayMaxRate) {
			t.Fatal("with no budget every replay runs")
		}
	}
}

// A viewer that leaves gives back its replays' turns, running or waiting;
// and, gone, its slots get no turn again.
func TestAGoneViewerGivesBackItsReplayTurns(t *testing.T) {
	r := newRigRoom(t)
	s := r.s
	s.ov.replays.init(8*100, &s.m.ov)
	v := &viewer{room: r}
	running, waiting := &slot{viewer: v, kind: videoIdx}, &slot{viewer: v, kind: videoIdx}
	v.slots = []*slot{running, waiting}
	other := &slot{viewer: &viewer{room: r}, kind: videoIdx}
	for _, x := range []struct {
		sl   *slot
		rate float64
	}{{running, 80}, {waiting, 80}, {other, 10}} {
		x.sl.replaying = true
		x.sl.rp.waiting = !s.ov.replays.take(x.sl, x.rate)
	}
	if len(s.ov.replays.waiting) != 2 {
		t.Fatalf("%d waiting, want 2", len(s.ov.replays.waiting))
	}
	s.viewerGone(v)
	if _, ok := s.ov.replays.running[other]; !ok || len(s.ov.replays.running) != 1 || len(s.ov.replays.waiting) != 0 {
		t.Fatalf("after the viewer left: %d running (other's turn: %v), %d waiting; want only the other viewer's, running",
			len(s.ov.replays.running), ok, len(s.ov.replays.waiting))
	}
	// Its writer may still pump them before it stops: they get no turn
	// and no place in the queue.
	if s.ov.replays.take(running, 1) || s.ov.replays.take(waiting, 1) || len(s.ov.replays.waiting) != 0 {
		t.Fatalf("a gone viewer's slot was given a turn or queued (%d waiting)", len(s.ov.replays.waiting))
	}
}

// End to end, a join burst in miniature: while the node's replay budget is
// taken, two joining viewers get no video and wait in order; when it is
// freed the first starts at once, the second only once the first has
// caught up with the live edge (the budget fits one replay), and each
// still gets its keyframe first and an unbroken stream after it.
func TestJoiningViewersWaitTheirReplayTurn(t *testing.T) {
	r, p, _ := bulkRoom(t, 1500*time.Millisecond)
	s := r.s
	s.ov.replays.init(1, &s.m.ov) // one replay at a time
	blocker := budgetSlot()
	if !s.ov.replays.take(blocker, 1) {
		t.Fatal("the blocker must run")
	}
	a := startViewerHook(t, r, bareClientAPI(t), "a", 1, nil)
	b := startViewerHook(t, r, bareClientAPI(t), "b", 1, nil)
	eventually(t, 10*time.Second, "both viewers' replays waiting", func() bool {
		return gaugeValue(t, s.m.ov.replaysWaiting) == 2
	})
	midA, midB := a.mid(t, 0, "video"), b.mid(t, 0, "video")
	if n := len(a.packets(midA)) + len(b.packets(midB)); n != 0 {
		t.Fatalf("%d video packets reached viewers whose replays wait", n)
	}
	s.ov.replays.end(blocker)
	// One runs, the other waits: a state that lasts as long as the first's
	// replay. Which is first is the order their connections came up in, not
	// the order they were started in.
	var waiting *testViewer
	eventually(t, 10*time.Second, "one viewer's replay running, the other's waiting", func() bool {
		if gaugeValue(t, s.m.ov.replaysActive) != 1 || gaugeValue(t, s.m.ov.replaysWaiting) != 1 {
			return false
		}
		switch na, nb := len(a.packets(midA)), len(b.packets(midB)); {
		case na > 0 && nb == 0:
			waiting = b
		case nb > 0 && na == 0:
			waiting = a
		default:
			return false
		}
		return true
	})
	if n := len(waiting.packets(waiting.mid(t, 0, "video"))); n != 0 {
		t.Fatalf("the waiting viewer got %d video packets while the other replayed", n)
	}
	live := p.frame.Load()
	for _, v := range []*testViewer{a, b} {
		mid := v.mid(t, 0, "video")
		eventually(t, 10*time.Second, "the viewer to catch up with the live stream", func() bool {
			pk := v.packets(mid)
			return len(pk) > 0 && pk[len(pk)-1].counter > live+50
		})
		got := v.packets(mid)
		for i := 0; i < bulkKeyPackets; i++ {
			if !got[i].key || got[i].counter != 1 {
				t.Fatalf("packet %d is frame %d (key %v), want the keyframe first", i, got[i].counter, got[i].key)
			}
		}
		for i := 1; i < len(got); i++ {
			if got[i].seq != got[i-1].seq+1 {
				t.Fatalf("packet %d: seq %d after %d", i, got[i].seq, got[i-1].seq)
			}
		}
	}
	eventually(t, 10*time.Second, "the budget empty", func() bool {
		return gaugeValue(t, s.m.ov.replaysActive) == 0 && gaugeValue(t, s.m.ov.replaysWaiting) == 0
	})
	var h dto.Metric
	if err := s.m.ov.replayWait.Write(&h); err != nil {
		t.Fatal(err)
	}
	if n, sum := h.GetHistogram().GetSampleCount(), h.GetHistogram().GetSampleSum(); n != 2 || sum <= 0 {
		t.Fatalf("replay_wait_seconds: %d samples, sum %.3f s; want both viewers' waits", n, sum)
	}
}
