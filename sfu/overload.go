package sfu

import (
	"cmp"
	"math"
	"runtime"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/time/rate"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/sfu/rtcconn"
)

// Overload is a designed state (issue 16): past what the node can send,
// losses make viewers NACK, NACKs make retransmissions, retransmissions
// make more losses, and waiting viewers ask for keyframes that are the
// biggest packets of all. The caps below stop that loop. Retransmissions
// and keyframe requests beyond their budgets are shed (the viewer's
// decoder conceals, or its slot waits for the next keyframe a later
// request gets); over the egress budget the node refuses NEW subscribers
// (ErrOverloaded: rtc.subscribe's overloaded, WHEP's 503) so the viewers it
// already serves keep their quality. seatsfu_shed_total{what} counts what
// was shed.

// Overload are the node's media caps; a zero field means no cap.
type Overload struct {
	// EgressBudget is the packets per second the node may forward
	// (retransmissions included): over it, new subscribers are refused.
	EgressBudget int
	// EgressFloor is, with no EgressBudget, the packets per second due
	// from which the node's own drops make it behind and teach it a
	// ceiling (0: never; see DefaultEgressFloor).
	EgressFloor int
	// EgressCPU is, with no EgressBudget, the share of the node's cores
	// (GOMAXPROCS), percent, from which the node typically using it in
	// judged seconds admits no viewer more than it sends (0: off; see the
	// CPU rule).
	EgressCPU int
	// ViewerRetransmits caps each viewer's retransmissions per second
	// (a burst of as many).
	ViewerRetransmits int
	// NodeRetransmits caps the node's retransmissions per second.
	NodeRetransmits int
	// NodeKeyframeRequests caps the keyframe requests (PLIs) the node
	// sends all its publishers per second, on top of each source's own
	// coalescing (one per keyframe interval).
	NodeKeyframeRequests int
	// ReplayBudget caps the node's concurrent keyframe-group replays to
	// joining viewers by their pacing rates, bits per second; replays
	// over it wait their turn (pace_budget.go).
	ReplayBudget int
	// Handshakes is how many viewers' DTLS handshakes run at once on the
	// own transport (0: 64 × GOMAXPROCS); HandshakeQueue how many wait
	// their turn (0: 4096). A join burst queues, not refused
	// (rtcconn/gate.go).
	Handshakes, HandshakeQueue int
}

// DefaultHandshakeQueue is Overload.HandshakeQueue's default.
const DefaultHandshakeQueue = rtcconn.DefaultHandshakeQueue

// ErrOverloaded refuses a subscriber while the node is over its egress
// budget; the edge answers it like its own subscriber cap (PROTOCOL.md
// §3.4).
var ErrOverloaded = &seat.Error{Reason: "overloaded", Message: "the media server is at its egress budget; try again later"}

// What seatsfu_shed_total counts.
const (
	shedSubscribers = iota
	shedRetransmissions
	shedKeyframeRequests
	shedKinds
)

var shedNames = [shedKinds]string{"subscribers", "retransmissions", "keyframe_requests"}

// egressEvery is how often the egress rate is measured.
const egressEvery = time.Second

// behindShare is the share of what viewers were due that the node's
// writers may drop in a window before admission stops: past it the node is
// past its core's worth whatever its budget says (a budget measured on a
// faster minute of the machine, or set by hand too high), and one more
// viewer only spreads the loss wider. It is issue 16's loss bound. The
// drops of a viewer whose own link holds its writer do not count at all
// (viewer.link).
const behindShare = 0.01

// behindHold is how long the node stays behind after the last window over
// behindShare. A node at the edge of its worth drops in one second and not
// the next; released at the first clean second, admission let viewers in
// between the drops and a gradual arrival reached 3 % loss (bench/README.md,
// session 6's gradual runs).
const behindHold = 3 * egressEvery

// The learned ceiling. A budget is a figure measured on some minute of the
// machine (bench/README.md: its saturating count moved from 437 to 600
// between runs minutes apart on this VM) or set by hand; the behind rule
// stops admission for behindHold when it proves too high, but then the
// node admitted at the old budget again, went behind again, and a gradual
// arrival lost a little more each time. So a window over behindShare also
// teaches the node what it could send then — its sent rate, the one
// figure measured on this minute — and admission holds under that
// ceiling as well as the budget. Each clean window (nothing dropped)
// raises the ceiling by ceilingRise, or to what the window sent if that is
// more, until it reaches the budget and is forgotten: a node that had one
// bad second (the hypervisor took its core) is cautious for half a
// minute, not for good.

// ceilingRise is the share by which a clean window raises the ceiling:
// from half the budget back to all of it in 35 s.
const ceilingRise = 0.02

// A node with no budget (the default: a node does not know its core's
// worth until it is measured) is not unprotected. The behind rule and the
// learned ceiling need no budget: they measure the node on this minute.
// With no budget they judge only windows in which viewers were due at
// least EgressFloor packets/s (DefaultEgressFloor: a few per cent of what
// one core forwards, bench/README.md). Below it, a second over the behind
// share is not a core past its worth but a stall — the hypervisor took the
// core, a test box's race detector — and refusing viewers would not help
// them. Nor does the ceiling compound 2 % a clean second towards a budget
// it does not have: clean seconds with no budget above them let it run far
// past what the node ever sent (454 000 pkt/s on a core that saturates
// near 250 000, bench/README.md session 9), and it admitted a fifth more
// viewers than the core could serve. A clean second lifts it to 2 % — or
// one viewer, if that is more — over what the node typically sends
// (learnCeiling): admission grows with what the node proves. It is
// forgotten ceilingMemory after the last second over the share.
const DefaultEgressFloor = 10_000

// DefaultEgressCPU is the CPU rule's share, percent, as cmd/seatsfu sets
// it: high enough that a node is near its worth, low enough that the
// seconds it takes to measure do not take it past (bench/README.md).
const DefaultEgressCPU = 90

// ceilingMemory is how long a node with no budget keeps its ceiling after
// its last second over the behind share or the CPU share.
const ceilingMemory = time.Minute

// The CPU rule. With no budget the behind rule acts only once the node has
// dropped, and the viewers admitted in the second or two before its first
// bad second stay (bench/README.md, session 9: gradual arrivals met the
// loss bound in 2 of 3 runs). The process's own CPU is an earlier signal:
// a judged second in which it typically used EgressCPU percent of its
// cores or more — the median of the last ingressMemory seconds, because
// one second's share swings by a tenth either way on a loaded node (the
// garbage collector, handshakes) — teaches the ceiling as a second over
// the behind share does, what the node typically sends, without refusing
// everyone (the node still serves its viewers whole), and is remembered as
// long. A cooler second lifts it as a clean one does, so admission settles
// where the node runs at about EgressCPU. Judged on single seconds, every
// cool one lifted the ceiling and a gradual arrival went on until the node
// dropped 11 % (bench/README.md, session 12). A projection — what the node
// would send at EgressCPU, from its CPU per packet — admitted a quarter of
// what the node could serve: a joining viewer's DTLS handshake costs the
// node far more than a second of its media, so during arrivals the share
// is mostly theirs.
//
// Not with a budget: the operator measured the node's worth, and the
// behind rule catches a budget set too high. It cannot see other processes
// taking the node's cores (its share then stays low; the behind rule
// remains), and a burst of joins still arrives before any second is
// measured.

// overload is the node's share of the caps. Its zero value caps nothing
// (the fan-out benchmarks build an SFU without New).
type overload struct {
	cfg      Overload
	now      func() time.Time // nil: time.Now; tests fix it
	nodeNack *rate.Limiter    // nil: no cap
	nodeKey  *rate.Limiter

	// The egress measurement (sampleEgress) and what it projects.
	rate      atomic.Int64 // forwarded packets/s in the last window
	behind    atomic.Bool  // a window within behindHold dropped over behindShare of what was due
	perViewer atomic.Int64 // what one more viewer adds, packets/s (0: unknown)
	ceiling   atomic.Int64 // the learned ceiling, packets/s (0: none, the budget alone)
	viewers   atomic.Int64 // subscribers admitted and not yet gone, connected or not
	up        atomic.Int64 // of them, those whose connection is up (join.go)
	// replayed counts the packets of keyframe-group replays (pace.go):
	// egress, but a joining viewer's passing burst — up to twice its
	// steady rate for a second — not what it will cost from then on.
	replayed atomic.Int64
	// linkDropped counts the drops of viewers whose own link held their
	// writer (slot.countDrop): not the node's, so not in egressSample.
	linkDropped atomic.Int64
	// The sampler's previous totals and up count.
	last        egressSample
	lastUp      int64
	lastJoining int64     // admitted but not connected, at the last sample
	lateAt      time.Time // the end of the last window over behindShare
	hotAt       time.Time // the end of the last judged window over EgressCPU (the CPU rule)
	cores       int       // the node's cores, for the CPU share: GOMAXPROCS at init
	// The last windows' ingress and sent rates, pkt/s, and the process's
	// CPU share of the cores, per mille.
	ingress, sent, cpu recentRates
	lastAt             time.Time

	stop, done chan struct{} // the sampler's; nil when it does not run

	// replays is the node's replay budget (pace_budget.go).
	replays replayBudget
}

func (o *overload) init(cfg Overload, m *overloadMetrics) {
	o.cfg = cfg
	o.cores = runtime.GOMAXPROCS(0)
	o.replays.init(cfg.ReplayBudget, m)
	if cfg.NodeRetransmits > 0 {
		o.nodeNack = rate.NewLimiter(rate.Limit(cfg.NodeRetransmits), cfg.NodeRetransmits)
	}
	if cfg.NodeKeyframeRequests > 0 {
		o.nodeKey = rate.NewLimiter(rate.Limit(cfg.NodeKeyframeRequests), cfg.NodeKeyframeRequests)
	}
}

func (o *overload) clock() time.Time {
	if o.now != nil {
		return o.now()
	}
	return time.Now()
}

// viewerLimiter is a new viewer's retransmission budget, nil without a cap.
func (o *overload) viewerLimiter() *rate.Limiter {
	if o.cfg.ViewerRetransmits <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(o.cfg.ViewerRetransmits), o.cfg.ViewerRetransmits)
}

// allowRetransmit spends one retransmission of v's budget and the node's;
// false (and counted as shed) when either is empty. Called by v's writer.
func (s *SFU) allowRetransmit(v *viewer) bool {
	o := &s.ov
	if v.nacks == nil && o.nodeNack == nil {
		return true
	}
	now := o.clock()
	if (v.nacks != nil && !v.nacks.AllowN(now, 1)) || (o.nodeNack != nil && !o.nodeNack.AllowN(now, 1)) {
		s.m.shed[shedRetransmissions].Inc()
		return false
	}
	return true
}

// allowKeyframeRequest spends one of the node's keyframe requests; false
// (and counted as shed) when none is left. A slot still waiting asks again
// with its next packet, so a shed request is delayed, not lost.
func (s *SFU) allowKeyframeRequest() bool {
	o := &s.ov
	if o.nodeKey == nil || o.nodeKey.AllowN(o.clock(), 1) {
		return true
	}
	s.m.shed[shedKeyframeRequests].Inc()
	return false
}

// admitSubscriber counts a new subscriber in, or refuses it while the
// node's egress with it would exceed the budget. The projection is every
// admitted viewer — those still connecting included, which the last
// measurement could not see — times what a connected viewer costs: a
// burst of joins is refused from the first viewer over the budget, not a
// measurement later, and a viewer that leaves frees its place at once. An
// admitted subscriber that does not attach after all gives its place back
// (releaseSubscriber). While the node is behind (behindShare) it refuses
// everyone: its budget was more than its core's worth.
func (s *SFU) admitSubscriber() error {
	o := &s.ov
	if o.behind.Load() {
		s.m.shed[shedSubscribers].Inc()
		return ErrOverloaded
	}
	limit := int64(o.cfg.EgressBudget)
	if c := o.ceiling.Load(); c > 0 && (limit <= 0 || c < limit) {
		limit = c
	}
	if limit <= 0 {
		o.viewers.Add(1) // no budget and nothing learned
		return nil
	}
	per := o.perViewer.Load() // retransmissions included
	for {
		// Compare and swap: subscribers admitted at once must not all
		// count the same last place.
		n := o.viewers.Load()
		if per*(n+1) > limit {
			s.m.shed[shedSubscribers].Inc()
			return ErrOverloaded
		}
		if o.viewers.CompareAndSwap(n, n+1) {
			return nil
		}
	}
}

// releaseSubscriber undoes admitSubscriber for a subscriber that failed or
// left.
func (s *SFU) releaseSubscriber() { s.ov.viewers.Add(-1) }

// viewerUp counts v's connection as up (its writer, when it came up);
// viewerGone uncounts it when v detaches. A viewer's upState goes 0 → 1
// (up) → 2 (gone), or 0 → 2, so neither counts twice.
func (s *SFU) viewerUp(v *viewer) {
	if v.upState.CompareAndSwap(0, 1) {
		s.ov.up.Add(1)
	}
}

func (s *SFU) viewerGone(v *viewer) {
	if v.upState.Swap(2) == 1 {
		s.ov.up.Add(-1)
	}
	// Its replays give back their turns in the replay budget: its writer
	// may never pump them again. The replays themselves are the writer's
	// (it reads their state unlocked), so only the budget is touched; once
	// upState is 2 the budget gives none of its slots a turn (take), so
	// none can be left holding one.
	for _, sl := range v.slots {
		s.ov.replays.end(sl)
	}
}

// startEgressSampler measures the egress rate every egressEvery, budget
// or not (see DefaultEgressFloor); Close stops it.
func (s *SFU) startEgressSampler() {
	o := &s.ov
	o.stop, o.done = make(chan struct{}), make(chan struct{})
	o.lastAt, o.last = time.Now(), s.egressNow()
	go func() {
		defer close(o.done)
		t := time.NewTicker(egressEvery)
		defer t.Stop()
		for {
			select {
			case <-o.stop:
				return
			case <-t.C:
				// The counts' own instant, not the tick's: on a busy core
				// the tick is read late, and a window timed by the tick but
				// counted later read up to twice the true rate.
				s.sampleEgress(time.Now(), s.egressNow())
			}
		}
	}()
}

func (s *SFU) stopEgressSampler() {
	if s.ov.stop != nil {
		close(s.ov.stop)
		<-s.ov.done
	}
}

// egressSample is the node's packet counts at one instant.
type egressSample struct {
	sent     float64 // forwarded and retransmitted, replays included
	dropped  float64 // for full viewer queues: due, but the writer fell behind (not its link)
	ingress  float64 // received from publishers
	replayed int64   // of sent, keyframe-group replays
	cpu      float64 // the process's CPU time, user and system, seconds
}

func (s *SFU) egressNow() egressSample {
	return egressSample{
		sent:     counterSum(s.m.forwardedPackets[audioIdx], s.m.forwardedPackets[videoIdx], s.m.retransmitted),
		dropped:  counterSum(s.m.droppedPackets[audioIdx], s.m.droppedPackets[videoIdx]) - float64(s.ov.linkDropped.Load()),
		ingress:  counterSum(s.m.receivedPackets[audioIdx], s.m.receivedPackets[videoIdx]),
		replayed: s.ov.replayed.Load(),
		cpu:      processCPU(),
	}
}

// processCPU is the CPU time the process has used, user and system,
// seconds (0 when the system does not say).
func processCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// sampleEgress turns the counts since the last sample into the egress rate
// and what one more viewer adds: what a connected viewer was due per
// second (sent or dropped for its full queue, replays not), or while no
// viewer is connected, the node's ingress — a viewer is sent at most what
// the node receives. Due, not sent: a node past its core's worth sends
// each viewer less than it owes, and pricing viewers by that would admit
// more the worse it got.
//
// The price rises with any window, but falls only with a steady one (see
// steadyWindow): a window in which viewers joined under-measures them — a
// viewer connected at its end was due a sliver of it, one still connecting
// was due nothing, one replaying its cached group had its live packets
// sent as replay — and a price that fell on it admitted the rest of a join
// burst at a fraction of what it costs (450 joining at once at a budget for
// 300: 441 admitted, 58 % loss). Nor does it fall while the node is behind:
// a node past its worth also loses ingress (its socket overflows, so its
// viewers are due less), and a price that fell with it would admit more
// the worse it got.
func (s *SFU) sampleEgress(now time.Time, c egressSample) {
	o := &s.ov
	el := now.Sub(o.lastAt).Seconds()
	if el <= 0 {
		return
	}
	p := o.last
	r := int64((c.sent - p.sent) / el)
	due := int64((c.sent + c.dropped - p.sent - p.dropped - float64(c.replayed-p.replayed)) / el)
	in := int64((c.ingress - p.ingress) / el)
	up := o.up.Load()
	joining := o.viewers.Load() - up // admitted, not yet connected
	per := o.perViewer.Load()
	behind := c.dropped > p.dropped // writers fell behind: the node is past its worth
	// What one more viewer was due in this window — a connected one's
	// share of the node's ingress, or with none connected, the whole
	// ingress — at the node's typical ingress (the median of the last
	// ingressMemory windows), not this window's. A node whose core other
	// work took reads its socket late: its viewers are due less for a
	// second (unscaled, a starved second priced a viewer at 183 pkt/s
	// where it costs 453), then more while it reads the backlog (a price
	// raised by that refused viewers the node could serve). A viewer's
	// share of the ingress holds through both. A publisher that left
	// lowers the typical ingress within ingressMemory windows.
	typical := o.ingress.note(in)
	m := typical
	if up > 0 {
		m = 0
		if in > 0 {
			m = int64(float64(due) / float64(up) * float64(typical) / float64(in))
		}
		// But never more than a viewer can cost: the node's ingress and
		// its retransmissions (at most ViewerRetransmits; with no cap, as
		// many again). A second in which the starved node read next to
		// nothing while its writers still sent their backlog made the
		// scaling above price a viewer at 156 461 pkt/s — the whole node
		// (bench/README.md, "The handshake gate", run 3) — and the price
		// falls only with a steady window.
		m = min(m, typical+cmp.Or(int64(o.cfg.ViewerRetransmits), typical))
	}
	dropped := (c.dropped - p.dropped) / el
	over := dropped > behindShare*(float64(r)+dropped) && o.judged(float64(r)+dropped)
	if over {
		o.lateAt = now
	}
	share := (c.cpu - p.cpu) / el / float64(max(o.cores, 1))
	hot := o.hot(o.cpu.note(int64(math.Round(share*1000))), float64(r)+dropped)
	if hot {
		o.hotAt = now
	}
	o.learnCeiling(now, r, o.sent.note(r), over || hot, dropped == 0 && !hot)
	late := !o.lateAt.IsZero() && now.Sub(o.lateAt) < behindHold
	switch {
	case m <= 0:
	case per == 0 || m > per:
		per = m
	case o.steadyWindow(up, joining, c.replayed-p.replayed) && !behind && !late:
		// Not while behind either: a node past its worth reads its
		// socket in fits, and the seconds it catches up price a viewer
		// low (gradual arrivals reached 644 viewers at a budget for 612).
		per = m
	}
	o.lastAt, o.last, o.lastUp, o.lastJoining = now, c, up, joining
	o.behind.Store(late)
	if late {
		s.m.ov.behind.Set(1)
	} else {
		s.m.ov.behind.Set(0)
	}
	o.rate.Store(r)
	o.perViewer.Store(per)
	s.m.ov.cpuShare.Set(share)
	if hot {
		s.m.ov.cpuHot.Set(1)
	} else {
		s.m.ov.cpuHot.Set(0)
	}
	s.m.egressRate.Set(float64(r))
	s.m.ov.viewerPrice.Set(float64(per))
	s.m.ov.ceiling.Set(float64(o.ceiling.Load()))
}

// judged says whether a window in which viewers were due due packets/s
// can make the node behind: always with a budget, from EgressFloor without
// one (see DefaultEgressFloor).
func (o *overload) judged(due float64) bool {
	return o.cfg.EgressBudget > 0 || (o.cfg.EgressFloor > 0 && due >= float64(o.cfg.EgressFloor))
}

// hot says whether a window in which viewers were due due packets/s, the
// process typically using share per mille of the node's cores, is over the
// CPU rule's share: never with a budget, only in a judged window.
func (o *overload) hot(share int64, due float64) bool {
	return o.cfg.EgressCPU > 0 && o.cfg.EgressBudget <= 0 && share >= 10*int64(o.cfg.EgressCPU) && o.judged(due)
}

// learnCeiling notes a window ending now that sent r packets/s, typical
// the median of the last windows' (recentRates): over (behindShare
// dropped, in a judged window, or over the CPU rule's share), what it sent
// is the ceiling; clean (nothing dropped, under the CPU share), the
// ceiling rises — with a budget by ceilingRise
// until it reaches the budget and is forgotten, without one to
// ceilingRise or a viewer over what is typically sent, and it is forgotten
// ceilingMemory after the last window over either (see DefaultEgressFloor). A
// window with a few drops under the share leaves it as it is.
//
// With no budget, the typical rate, not the window's: a second in which
// the node caught up after its core was taken away sends far more than it
// can keep up (444 674 pkt/s on a core that saturates near 260 000,
// bench/README.md session 9), and a ceiling taught or lifted by it let in
// a tenth too many viewers. A starved second's low rate still lowers the
// ceiling at once, and the next clean second lifts it back.
func (o *overload) learnCeiling(now time.Time, r, typical int64, over, clean bool) {
	c := o.ceiling.Load()
	budget := int64(o.cfg.EgressBudget)
	switch {
	case over && budget > 0:
		c = max(r, 1) // 0 means none: a node that sent nothing admits nothing
	case over:
		c = max(min(r, typical), 1)
	case c == 0 || !clean:
	case budget > 0:
		if c = max(c+int64(math.Ceil(ceilingRise*float64(c))), r); c >= budget {
			c = 0
		}
	case now.Sub(o.lateAt) >= ceilingMemory && now.Sub(o.hotAt) >= ceilingMemory:
		c = 0
	default:
		c = max(c, typical+max(int64(math.Ceil(ceilingRise*float64(typical))), o.perViewer.Load()))
	}
	o.ceiling.Store(c)
}

// steadyWindow says whether the window just ended measured its connected
// viewers whole: they changed by at most a tenth, none was connecting at
// either end, and no cached group was replayed. With none connected that
// is a window with no join at all: the ingress of a node busy with a burst
// of handshakes reads low too (its socket is read late), and a price that
// fell to it admitted 414 of 450 at a budget for 289.
func (o *overload) steadyWindow(up, joining, replayed int64) bool {
	return 10*abs(up-o.lastUp) <= up && joining <= 0 && o.lastJoining <= 0 && replayed == 0
}

// ingressMemory is how many of the last egressEvery windows' rates a
// median is taken of (recentRates): the ingress the price is scaled to
// (sampleEgress), the sent rate a ceiling with no budget follows
// (learnCeiling).
const ingressMemory = 5

// recentRates is the last ingressMemory windows' rates of one kind.
type recentRates struct {
	w [ingressMemory]int64
	n int
}

// note notes this window's rate and returns the median (the upper one) of
// the last ingressMemory windows', or of as many as there were.
func (r *recentRates) note(v int64) int64 {
	r.w[r.n%ingressMemory] = v
	r.n++
	n := min(r.n, ingressMemory)
	w := r.w // a copy: sorting it leaves the ring in order
	sorted := w[:n]
	slices.Sort(sorted)
	return sorted[n/2]
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

func counterSum(cs ...prometheus.Counter) float64 {
	var sum float64
	for _, c := range cs {
		var d dto.Metric
		if c.Write(&d) == nil {
			sum += d.GetCounter().GetValue()
		}
	}
	return sum
}

// noteLimits publishes the caps as seatsfu_media_limit{limit}.
func (s *SFU) noteLimits() {
	c := s.cfg.Overload
	for name, v := range map[string]int{
		"egress_budget": c.EgressBudget, "egress_floor": c.EgressFloor, "egress_cpu_percent": c.EgressCPU, "viewer_retransmits": c.ViewerRetransmits,
		"node_retransmits": c.NodeRetransmits, "node_keyframe_requests": c.NodeKeyframeRequests,
		"replay_budget_bits": c.ReplayBudget,
	} {
		s.m.mediaLimit.WithLabelValues(name).Set(float64(v))
	}
}
