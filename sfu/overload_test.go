package sfu

import (
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"github.com/seatsfu/seatsfu/media"
	"github.com/seatsfu/seatsfu/seat"
)

// frozen fixes the overload caps' clock: no token comes back while a test
// runs, however slow the machine.
func frozen(s *SFU) { t0 := time.Now(); s.ov.now = func() time.Time { return t0 } }

// A viewer's retransmissions stop at its budget: of six NACKed packets in
// the cache, three are resent and three shed.
func TestViewerRetransmissionsAreCapped(t *testing.T) {
	f := newFanout(t, 1, 0, 64, 10)
	defer f.stop()
	f.src.read()
	w, v := f.writers[0], f.viewers[0]
	eventually(t, 5*time.Second, "10 packets", func() bool { return w.own.Load() == 10 })
	s := v.room.s
	frozen(s)
	v.nacks = rate.NewLimiter(3, 3)
	for seq := uint16(1); seq <= 6; seq++ {
		v.push(item{sl: v.slots[0], nack: true, seq: seq})
	}
	eventually(t, 5*time.Second, "three NACKs shed", func() bool { return counterValue(t, s.m.shed[shedRetransmissions]) == 3 })
	if got := w.own.Load() - 10; got != 3 {
		t.Fatalf("%d retransmissions, want the viewer's 3", got)
	}
	if got := counterValue(t, s.m.retransmitted); got != 3 {
		t.Fatalf("retransmitted_packets_total = %v, want 3", got)
	}
}

// The node's budget is shared: two viewers NACKing three packets each
// get four retransmissions between them.
func TestNodeRetransmissionsAreCapped(t *testing.T) {
	f := newFanout(t, 2, 0, 64, 10)
	defer f.stop()
	f.src.read()
	eventually(t, 5*time.Second, "10 packets each", func() bool { return f.fwd.Load() == 20 })
	s := f.viewers[0].room.s
	frozen(s)
	s.ov.nodeNack = rate.NewLimiter(4, 4)
	for _, v := range f.viewers {
		for seq := uint16(1); seq <= 3; seq++ {
			v.push(item{sl: v.slots[0], nack: true, seq: seq})
		}
	}
	eventually(t, 5*time.Second, "two NACKs shed", func() bool { return counterValue(t, s.m.shed[shedRetransmissions]) == 2 })
	if got := f.fwd.Load() - 20; got != 4 {
		t.Fatalf("%d retransmissions, want the node's 4", got)
	}
}

// Keyframe requests of the whole node stop at its budget, whichever source
// asks: five sources past their own throttles, two PLIs, three shed.
func TestNodeKeyframeRequestsAreCapped(t *testing.T) {
	r := newRigRoom(t)
	s := r.s
	frozen(s)
	s.ov.nodeKey = rate.NewLimiter(2, 2)
	var sent int
	for i := 0; i < 5; i++ {
		src := newSource(&publisher{room: r, user: "p"}, videoIdx, media.CodecVP8, nil, nil)
		src.requestKeyframe() // each source's first request passes its own throttle
		if src.up.lastPLI.Load() != 0 {
			sent++
		}
		src.up.stop()
	}
	if sent != 2 {
		t.Fatalf("%d PLIs sent, want the node's 2", sent)
	}
	if got := counterValue(t, s.m.shed[shedKeyframeRequests]); got != 3 {
		t.Fatalf("shed keyframe requests %v, want 3", got)
	}
}

// Over the egress budget the node admits no new subscriber: at 900 pkt/s
// of nine connected viewers (100 each) and a budget of 1 000, one more
// viewer fits, the next is refused — before any measurement shows it —
// until viewers leave.
func TestEgressBudgetRefusesNewSubscribers(t *testing.T) {
	s, t0 := measuredNode(t, Overload{EgressBudget: 1000}, 9)
	s.sampleEgress(t0.Add(2*time.Second), egressSample{sent: 1800, ingress: 900}) // 900 pkt/s out, 450 in
	if err := s.admitSubscriber(); err != nil {
		t.Fatalf("the tenth viewer: %v, want admitted", err)
	}
	if err := s.admitSubscriber(); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("the eleventh viewer: %v, want %v", err, ErrOverloaded)
	}
	if got := counterValue(t, s.m.shed[shedSubscribers]); got != 1 {
		t.Fatalf("shed subscribers %v, want 1", got)
	}
	if got := gaugeValue(t, s.m.egressRate); got != 900 {
		t.Fatalf("egress_packets_per_second %v, want 900", got)
	}
	// The next measurement: the tenth is connected now; then half the
	// viewers leave.
	s.ov.up.Store(10)
	s.sampleEgress(t0.Add(3*time.Second), egressSample{sent: 2800, ingress: 1350}) // 1 000 pkt/s
	if err := s.admitSubscriber(); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("at the budget: %v, want %v", err, ErrOverloaded)
	}
	for i := 0; i < 5; i++ {
		s.releaseSubscriber()
	}
	if err := s.admitSubscriber(); err != nil {
		t.Fatalf("back under the budget: %v", err)
	}
}

// A viewer is priced at what it is due, not at what was sent: replayed
// keyframe groups are egress (egress_packets_per_second counts them) but
// not what a viewer costs from then on, and packets dropped for a writer
// that fell behind were due all the same. Ten connected viewers, 800 pkt/s
// live, 200 dropped and 1 000 replayed to joiners: 100 each.
func TestEgressBudgetPricesViewersByWhatTheyAreDue(t *testing.T) {
	s, t0 := measuredNode(t, Overload{EgressBudget: 1500}, 10)
	s.sampleEgress(t0.Add(time.Second), egressSample{sent: 1800, dropped: 200, ingress: 500, replayed: 1000})
	if got := s.ov.perViewer.Load(); got != 100 {
		t.Fatalf("a viewer priced at %d pkt/s, want 100", got)
	}
	if got := gaugeValue(t, s.m.egressRate); got != 1800 {
		t.Fatalf("egress_packets_per_second %v, want 1800", got)
	}
	// 200 of 2 000 due were dropped: the node is behind, and refuses the
	// next viewer though its budget has room for five.
	if err := s.admitSubscriber(); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("viewer 11 while the writers drop 10 %%: %v, want %v", err, ErrOverloaded)
	}
	if got := gaugeValue(t, s.m.ov.behind); got != 1 {
		t.Fatalf("egress_behind %v, want 1", got)
	}
	// Three seconds in which the writers kept up: the budget decides again.
	for k := 1; k <= 3; k++ {
		s.sampleEgress(t0.Add(time.Duration(1+k)*time.Second), egressSample{sent: 1800 + 1000*float64(k), dropped: 200, ingress: 500 + 500*float64(k), replayed: 1000})
	}
	for i := 0; i < 5; i++ {
		if err := s.admitSubscriber(); err != nil {
			t.Fatalf("viewer %d of 15: %v, want admitted", 11+i, err)
		}
	}
	if err := s.admitSubscriber(); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("the sixteenth viewer: %v, want %v", err, ErrOverloaded)
	}
}

// A node whose writers drop over 1 % of what its viewers are due is past
// its core's worth whatever its budget says, and refuses new viewers until
// three seconds in which they kept up — not at the first: a node at the
// edge drops in one second and not the next; a few drops (under 1 %: one
// viewer on a stalled link) do not stop admission.
func TestEgressBehindRefusesWhateverTheBudget(t *testing.T) {
	s, t0 := measuredNode(t, Overload{EgressBudget: 1_000_000}, 10)
	ws := windows{s: s, t0: t0}
	for i, w := range []struct {
		sent, dropped float64
		behind        bool
	}{
		{1000, 0, false},
		{995, 5, false}, // 0.5 %: under the share
		{980, 20, true}, // 2 %: behind
		{1000, 0, true}, // kept up, but held
		{1000, 0, true},
		{1000, 0, false}, // three seconds since the drops
	} {
		ws.next(w.sent, w.dropped)
		if got := s.ov.behind.Load(); got != w.behind {
			t.Fatalf("window %d (%v of %v due dropped): behind %v, want %v", i, w.dropped, w.sent+w.dropped, got, w.behind)
		}
		if got := gaugeValue(t, s.m.ov.behind); got != map[bool]float64{false: 0, true: 1}[w.behind] {
			t.Fatalf("window %d: seatsfu_egress_behind %v, want %v", i, got, w.behind)
		}
		if !w.behind {
			s.ov.ceiling.Store(0) // the learned ceiling has a test of its own
		}
		if err := s.admitSubscriber(); w.behind != (err != nil) {
			t.Fatalf("window %d: admission %v while behind is %v", i, err, w.behind)
		} else if err == nil {
			s.releaseSubscriber()
		}
	}
	if got := counterValue(t, s.m.shed[shedSubscribers]); got != 3 {
		t.Fatalf("shed_total{what=subscribers} %v, want 3", got)
	}
}

// A second over 1 % dropped also teaches the node its ceiling — what it
// sent then — and admission holds under it after the behind hold ends;
// each clean second raises it 2 % (or to what it sent, if more) until it
// reaches the budget and is forgotten.
func TestEgressCeilingIsLearnedWhenBehind(t *testing.T) {
	s, t0 := measuredNode(t, Overload{EgressBudget: 1200}, 10)
	ws := windows{s: s, t0: t0}
	ws.next(1000, 0) // 10 viewers due 100 each: the price is 100
	if got := s.ov.ceiling.Load(); got != 0 {
		t.Fatalf("a clean node has a ceiling of %d", got)
	}
	ws.next(900, 100) // 10 % dropped: it could send 900
	if got := s.ov.ceiling.Load(); got != 900 {
		t.Fatalf("ceiling %d after sending 900 while behind, want 900", got)
	}
	if got := gaugeValue(t, s.m.ov.ceiling); got != 900 {
		t.Fatalf("seatsfu_egress_ceiling_packets_per_second %v, want 900", got)
	}
	ws.next(1000, 0)                                             // sent more than the ceiling, cleanly: 1000
	ws.next(999, 1)                                              // a few drops under the share: unchanged
	for _, want := range []int64{1020, 1041, 1062, 1084, 1106} { // then 2 % a clean second, rounded up
		ws.next(1000, 0)
		if got := s.ov.ceiling.Load(); got != want {
			t.Fatalf("ceiling %d, want %d", got, want)
		}
		// The behind hold is over from the third window on; the 11th
		// viewer (1100 pkt/s) waits for the ceiling.
		err := s.admitSubscriber()
		if admit := want >= 1100; admit != (err == nil) {
			t.Fatalf("at a ceiling of %d: admission %v, want admitted %v", want, err, admit)
		}
		if err == nil {
			s.releaseSubscriber()
		}
	}
	for range 5 {
		ws.next(1000, 0)
	}
	if got := s.ov.ceiling.Load(); got != 0 {
		t.Fatalf("ceiling %d after rising past the budget (1200), want forgotten", got)
	}
}

// With no budget the node still learns its worth: from the floor up, a
// second over 1 % dropped refuses newcomers for the hold and teaches the
// ceiling. With no budget above it, a clean second lifts the ceiling only
// to 2 % or one viewer over what the node sent, never further, and a
// minute after the last second over the share it is forgotten. Below the
// floor, or with the floor off, the same second is taken for a stall and
// admission goes on.
func TestWithoutABudgetTheNodeStillLearnsItsWorth(t *testing.T) {
	for _, floor := range []int{5000, 0} {
		s, t0 := measuredNode(t, Overload{EgressFloor: floor}, 10)
		ws := windows{s: s, t0: t0}
		ws.next(1000, 0)
		ws.next(900, 100) // 10 % of 1000 due: under the floor, or no floor
		if s.ov.behind.Load() || s.ov.ceiling.Load() != 0 {
			t.Fatalf("floor %d: behind %v, ceiling %d at 1000 pkt/s due", floor, s.ov.behind.Load(), s.ov.ceiling.Load())
		}
		if err := s.admitSubscriber(); err != nil {
			t.Fatalf("floor %d: %v", floor, err)
		}
	}

	s, t0 := measuredNode(t, Overload{EgressFloor: 500}, 10)
	ws := windows{s: s, t0: t0}
	ws.next(1000, 0) // 10 viewers due 100 each: the price is 100
	if err := s.admitSubscriber(); err != nil {
		t.Fatalf("a clean node with no budget: %v", err)
	}
	s.releaseSubscriber()
	ws.next(900, 100) // over the floor, 10 % dropped: behind, and it could send 900
	if !s.ov.behind.Load() || s.ov.ceiling.Load() != 900 {
		t.Fatalf("behind %v, ceiling %d; want behind at a ceiling of 900", s.ov.behind.Load(), s.ov.ceiling.Load())
	}
	if err := s.admitSubscriber(); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("admission while behind: %v", err)
	}
	ws.next(1000, 0)    // one viewer (100) over what it sent: 1100
	ws.next(999, 1)     // a few drops under the share: unchanged
	for i := range 57 { // the behind hold is over by the first
		ws.next(1000, 0)
		if got := s.ov.ceiling.Load(); got != 1100 {
			t.Fatalf("clean second %d at 1000 pkt/s: ceiling %d, want 1100 (it does not compound)", i, got)
		}
		if err := s.admitSubscriber(); err != nil { // the 11th viewer costs 1100
			t.Fatalf("clean second %d: the 11th viewer refused at a ceiling of 1100: %v", i, err)
		}
		if err := s.admitSubscriber(); err == nil { // the 12th, 1200
			t.Fatalf("clean second %d: a 12th viewer admitted at a ceiling of 1100", i)
		}
		s.releaseSubscriber()
	}
	ws.next(1000, 0) // a minute since the last second over the share
	if got := s.ov.ceiling.Load(); got != 0 {
		t.Fatalf("ceiling %d a minute after the node was behind, want forgotten", got)
	}
}

// With no budget, a second in which the node caught up after a stall —
// sending far more than it keeps up — neither teaches nor lifts the
// ceiling by what it sent then: the ceiling follows what the node
// typically sends (the median of the last seconds).
func TestWithoutABudgetACatchUpSecondDoesNotRaiseTheCeiling(t *testing.T) {
	s, t0 := measuredNode(t, Overload{EgressFloor: 500}, 10)
	ws := windows{s: s, t0: t0}
	for range 4 {
		ws.next(1000, 0)
	}
	ws.next(2900, 100) // behind while catching up: 2900 sent, 1000 typical
	if got := s.ov.ceiling.Load(); got != 1000 {
		t.Fatalf("ceiling %d after a catch-up second over the share, want the typical 1000", got)
	}
	ws.next(3000, 0) // a clean catch-up second
	// Lifted over the typical 1000 by one viewer's price — 200, which the
	// catch-up raised (the price rises with any second, up to twice a
	// viewer's ingress) — not to 2 % over the 3000 it sent.
	if got := s.ov.ceiling.Load(); got != 1200 {
		t.Fatalf("ceiling %d after a clean catch-up second, want 1200", got)
	}
}

// A burst of joins on a node no viewer is connected to yet — nothing
// measured per viewer — is refused from the first viewer over the budget:
// each is taken to cost the node's ingress (100 pkt/s here), connected or
// not. Before, every viewer of the burst was admitted until a measurement
// saw them, a second or more later.
func TestEgressBudgetHoldsAJoinBurst(t *testing.T) {
	s := newRigRoom(t).s
	s.ov.init(Overload{EgressBudget: 1000}, nil)
	t0 := time.Now()
	s.ov.lastAt = t0
	s.sampleEgress(t0.Add(time.Second), egressSample{ingress: 100}) // publishers only: 100 pkt/s in
	admitted := 0
	for i := 0; i < 30; i++ {
		if s.admitSubscriber() == nil {
			admitted++
		}
	}
	if admitted != 10 {
		t.Fatalf("%d of a burst of 30 admitted, want the budget's 10", admitted)
	}
	if got := counterValue(t, s.m.shed[shedSubscribers]); got != 20 {
		t.Fatalf("shed subscribers %v, want 20", got)
	}
	// Twenty of them connect within the next second: that window was
	// due a sliver of what they will cost, so the price stands.
	s.ov.up.Store(20)
	s.sampleEgress(t0.Add(2*time.Second), egressSample{sent: 400, ingress: 200})
	if got := s.ov.perViewer.Load(); got != 100 {
		t.Fatalf("after a join burst a viewer is priced at %d pkt/s, want the last steady 100", got)
	}
	// Steady again, but behind (queues overflowed), and due less: a node
	// past its worth receives less too; the price does not fall. Once not
	// behind, it does.
	s.sampleEgress(t0.Add(3*time.Second), egressSample{sent: 1800, dropped: 10, ingress: 300})
	if got := s.ov.perViewer.Load(); got != 100 {
		t.Fatalf("behind, a viewer is priced at %d pkt/s, want the last 100", got)
	}
	s.sampleEgress(t0.Add(4*time.Second), egressSample{sent: 3400, dropped: 10, ingress: 400})
	if got := s.ov.perViewer.Load(); got != 80 {
		t.Fatalf("a viewer is priced at %d pkt/s, want 80", got)
	}
	s.ov.up.Store(0)
	// A viewer counted up and gone twice, or gone before up, is counted once.
	v := &viewer{}
	s.viewerUp(v)
	s.viewerUp(v)
	s.viewerGone(v)
	s.viewerGone(v)
	s.viewerUp(v)
	w := &viewer{}
	s.viewerGone(w)
	s.viewerUp(w)
	if got := s.ov.up.Load(); got != 0 {
		t.Fatalf("%d viewers counted up, want 0", got)
	}
}

// Mid-burst the price does not fall. A window in which some of the burst
// connected, others were still connecting and the connected ones were
// replaying their cached groups measures each viewer low; the viewers
// admitted after it were admitted at that low price before (450 joining
// at once at a budget for 300: 441 admitted). Only a steady window — no
// one connecting, no replay — lowers it.
func TestEgressBudgetPriceHoldsThroughAJoinBurst(t *testing.T) {
	s := newRigRoom(t).s
	s.ov.init(Overload{EgressBudget: 10_000}, nil)
	t0 := time.Now()
	s.ov.lastAt = t0
	s.sampleEgress(t0.Add(time.Second), egressSample{ingress: 100}) // publishers only
	if got := s.ov.perViewer.Load(); got != 100 {
		t.Fatalf("before any viewer, priced at %d, want the ingress 100", got)
	}
	for i := 0; i < 60; i++ {
		if err := s.admitSubscriber(); err != nil {
			t.Fatalf("viewer %d: %v", i, err)
		}
	}
	// None connected yet, and the node, busy with their handshakes, read
	// its ingress late: 60 pkt/s.
	s.sampleEgress(t0.Add(1500*time.Millisecond), egressSample{ingress: 130})
	if got := s.ov.perViewer.Load(); got != 100 {
		t.Fatalf("handshaking, priced at %d, want the last steady 100", got)
	}
	// 50 are up at both ends of a window (within a tenth), 10 still
	// connecting, and the up ones replayed most of what they were due.
	s.ov.up.Store(50)
	s.ov.lastUp = 50
	s.sampleEgress(t0.Add(2*time.Second), egressSample{sent: 3000, ingress: 180, replayed: 2000})
	if got := s.ov.perViewer.Load(); got != 100 {
		t.Fatalf("mid-burst, priced at %d, want the last steady 100", got)
	}
	// All up, but the window still held replays.
	s.ov.up.Store(60)
	s.ov.lastUp = 60
	s.sampleEgress(t0.Add(3*time.Second), egressSample{sent: 7000, ingress: 280, replayed: 3000})
	if got := s.ov.perViewer.Load(); got != 100 {
		t.Fatalf("with replays in the window, priced at %d, want the last steady 100", got)
	}
	// The budget's 100 places hold: 40 more, not more.
	admitted := 0
	for i := 0; i < 100; i++ {
		if s.admitSubscriber() == nil {
			admitted++
		}
	}
	if admitted != 40 {
		t.Fatalf("%d admitted after the burst, want 40", admitted)
	}
	for i := 0; i < 40; i++ {
		s.releaseSubscriber()
	}
	// A steady window: all 60 up at both ends, no replay: 80 each.
	s.sampleEgress(t0.Add(4*time.Second), egressSample{sent: 11800, ingress: 380, replayed: 3000})
	if got := s.ov.perViewer.Load(); got != 80 {
		t.Fatalf("steady, priced at %d, want 80", got)
	}
	// A window that measures more raises the price at once, steady or not.
	s.ov.up.Store(30)
	s.ov.viewers.Store(30)
	s.sampleEgress(t0.Add(5*time.Second), egressSample{sent: 15400, ingress: 480, replayed: 3100})
	if got := s.ov.perViewer.Load(); got != 116 {
		t.Fatalf("priced at %d, want 116 ((3600-100)/30)", got)
	}
	// Steady windows of a starved node: it read half its ingress, so its
	// 30 viewers were due half as much. The price stands, a viewer's share
	// of the typical ingress; when the ingress stays low for most of
	// ingressMemory windows (a publisher left), the price follows.
	sent, in := 15400.0, 480.0
	for i := 1; i <= ingressMemory; i++ {
		sent, in = sent+30*58, in+50
		s.sampleEgress(t0.Add(time.Duration(5+i)*time.Second), egressSample{sent: sent, ingress: in, replayed: 3100})
		if got := s.ov.perViewer.Load(); i <= ingressMemory/2 && got != 116 {
			t.Fatalf("starved window %d: priced at %d, want 116: 58 of 50 in, at the typical 100", i, got)
		}
	}
	if got := s.ov.perViewer.Load(); got != 58 {
		t.Fatalf("after %d windows at half the ingress, priced at %d, want 58", ingressMemory, got)
	}
}

// The second after a starved one reads the backlog (ingress over its
// rate); the recent ingress then stays high for a while, and a price
// scaled up by it would refuse viewers the node can serve. It is not.
func TestEgressBudgetPriceIsNotRaisedByACatchUp(t *testing.T) {
	s, t0 := measuredNode(t, Overload{EgressBudget: 10_000}, 10)
	var c egressSample
	for i, w := range []struct{ in, per float64 }{
		{100, 100}, // steady: 10 viewers due 100 each
		{50, 50},   // starved: read half, sent half
		{150, 150}, // catching up
		{100, 100}, // steady again
		{100, 100},
	} {
		c.ingress += w.in
		c.sent += 10 * w.per
		s.sampleEgress(t0.Add(time.Duration(i+1)*time.Second), c)
		if got := s.ov.perViewer.Load(); got != 100 {
			t.Fatalf("window %d: priced at %d, want 100", i, got)
		}
	}
}

// A starved second in which the node read next to nothing while its
// writers sent their backlog does not price a viewer above what one can
// cost: the node's ingress and its capped retransmissions (it priced one
// at 156 461 pkt/s, the whole node, before).
func TestEgressBudgetPriceIsCappedByTheIngress(t *testing.T) {
	s, t0 := measuredNode(t, Overload{EgressBudget: 10_000, ViewerRetransmits: 30}, 10)
	var c egressSample
	for i, w := range []struct{ in, per float64 }{
		{100, 100}, // steady: 10 viewers due 100 each
		{1, 100},   // starved: read 1, the writers still sent 100 each
	} {
		c.ingress += w.in
		c.sent += 10 * w.per
		s.sampleEgress(t0.Add(time.Duration(i+1)*time.Second), c)
	}
	if got := s.ov.perViewer.Load(); got != 130 {
		t.Fatalf("after a starved second priced at %d, want 130 (ingress 100 + 30 retransmissions)", got)
	}
}

// End to end: the sampler measures a real room's egress; over the budget
// rtc.subscribe's Room.Subscribe refuses the next viewer with overloaded
// while the joined one keeps receiving.
func TestOverEgressBudgetJoinedViewersKeepTheirMedia(t *testing.T) {
	s, err := New(Config{
		ListenIP: "127.0.0.1", IncludeLoopback: true,
		ICEDisconnectedTimeout: time.Second, ICEFailedTimeout: 2 * time.Second, ICEKeepaliveInterval: 200 * time.Millisecond,
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
		Overload: Overload{EgressBudget: 20},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	r, _ := openTestRoom(t, s, 2, seat.ModeFree)
	api := bareClientAPI(t)
	startPublisher(t, r, api, "owner", 'O')
	first := startViewer(t, r, api, "first", 1, true)
	mid := first.mid(t, 0, "video")
	eventually(t, 10*time.Second, "an egress over 20 pkt/s measured", func() bool { return s.ov.rate.Load() > 20 })
	_, _, _, err = r.Subscribe("second", gatheredOffer(t, newRecvPC(t, api)), 0)
	var se *seat.Error
	if !errors.As(err, &se) || se.Reason != "overloaded" {
		t.Fatalf("second subscribe: %v, want overloaded", err)
	}
	n := first.count(mid)
	eventually(t, 10*time.Second, "the joined viewer still receiving", func() bool { return first.count(mid) >= n+20 })
}

// newRecvPC is a client connection offering to receive one audio and one
// video m-line, closed when the test ends.
func newRecvPC(t *testing.T, api *webrtc.API) *webrtc.PeerConnection {
	t.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	return pc
}

// measuredNode is a node with cfg's caps and n viewers admitted and
// connected, whose egress sampler last measured at t0.
func measuredNode(t *testing.T, cfg Overload, n int64) (*SFU, time.Time) {
	s := newRigRoom(t).s
	s.ov.init(cfg, nil)
	t0 := time.Now()
	s.ov.lastAt, s.ov.lastUp = t0, n
	s.ov.viewers.Store(n)
	s.ov.up.Store(n)
	return s, t0
}

// windows feeds a measuredNode's sampler one second at a time, 100 pkt/s
// in and what was sent and dropped as given.
type windows struct {
	s  *SFU
	t0 time.Time
	c  egressSample
	n  int
}

func (w *windows) next(sent, dropped float64) {
	w.n++
	w.c.ingress += 100
	w.c.sent += sent
	w.c.dropped += dropped
	w.s.sampleEgress(w.t0.Add(time.Duration(w.n)*time.Second), w.c)
}

// The price does not fall while the node is behind: within three seconds
// of a window that dropped over 1 %, a cheaper-looking second (a node past
// its worth reads in fits) leaves it where it was; after them it falls.
func TestEgressPriceHoldsWhileBehind(t *testing.T) {
	s, t0 := measuredNode(t, Overload{EgressBudget: 1_000_000}, 10)
	ws := windows{s: s, t0: t0}
	for i, w := range []struct {
		sent, dropped float64
		price         int64
	}{
		{1000, 0, 100},  // steady: 10 viewers due 100 each
		{900, 100, 100}, // 10 % dropped: behind
		{800, 0, 100},   // due 80 each, but held
		{800, 0, 100},
		{800, 0, 80}, // three seconds since the drops
	} {
		ws.next(w.sent, w.dropped)
		if got := s.ov.perViewer.Load(); got != w.price {
			t.Fatalf("window %d: priced at %d, want %d", i, got, w.price)
		}
	}
}

// A write on Pion's path that waits (an ICE-TCP socket buffer full) marks
// the slot's link slow, and a prompt one clears it; the drops of a slot
// whose link is slow are dropped_packets_total all the same, but not the
// node falling behind: they stay out of what the egress sampler reads.
func TestASlowLinksDropsAreNotTheNodes(t *testing.T) {
	sock, err := newEgressSocket(nil, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var link linkWatch
	delay := slowLinkWrite + 10*time.Millisecond
	pion := &delayWriter{}
	w := &egressWriter{pion: pion, sock: sock, link: &link}
	pion.delay = delay
	if _, err := w.WriteRTP(&rtp.Header{}, []byte{1}); err != nil || !link.slowNow() {
		t.Fatalf("a write that waited %v: err %v, link slow %v; want slow", delay, err, link.slowNow())
	}
	// A prompt write clears it. Three tries: a goroutine descheduled for
	// the threshold mid-write on a loaded box reads as a slow link too.
	pion.delay = 0
	for try := 1; ; try++ {
		if _, err := w.WriteRTP(&rtp.Header{}, []byte{1}); err != nil {
			t.Fatal(err)
		}
		if !link.slowNow() {
			break
		}
		if try == 3 {
			t.Fatal("three prompt writes left the link slow")
		}
	}
	// A write still waiting past the threshold makes the link slow before
	// it returns: the drops of a stall's first write are the link's too.
	entered := make(chan struct{})
	pion.delay, pion.entered = delay+100*time.Millisecond, entered
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = w.WriteRTP(&rtp.Header{}, []byte{1})
	}()
	<-entered
	deadline := time.Now().Add(delay)
	for !link.slowNow() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !link.slowNow() {
		t.Fatalf("a write waiting for %v left the link not slow", delay)
	}
	<-done

	const packets, queue = 100, 16
	f := newFanout(t, 2, 2, queue, packets) // nobody writes for either viewer: both queues fill
	s := f.viewers[0].room.s
	f.viewers[0].link.slow.Store(true)
	f.src.read()
	f.stop()
	perViewer := float64(packets - queue)
	if got := counterValue(t, s.m.droppedPackets[videoIdx]); got != 2*perViewer {
		t.Fatalf("dropped_packets_total %v, want %v (both viewers)", got, 2*perViewer)
	}
	if got := counterValue(t, s.m.ov.linkDropped); got != perViewer {
		t.Fatalf("dropped_packets_slow_link_total %v, want %v (the slow link's)", got, perViewer)
	}
	if got := s.egressNow().dropped; got != perViewer {
		t.Fatalf("the sampler reads %v dropped, want %v (the node's own)", got, perViewer)
	}
}

// delayWriter is Pion's path taking delay per write; entered, when set,
// is closed as the next write begins.
type delayWriter struct {
	delay   time.Duration
	entered chan struct{}
}

func (d *delayWriter) WriteRTP(h *rtp.Header, p []byte) (int, error) {
	if d.entered != nil {
		close(d.entered)
		d.entered = nil
	}
	time.Sleep(d.delay)
	return len(p), nil
}
func (d *delayWriter) Write(b []byte) (int, error) { return len(b), nil }
