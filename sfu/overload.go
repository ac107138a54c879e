package sfu

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/time/rate"

	"github.com/seatsfu/seatsfu/seat"
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
	// ViewerRetransmits caps each viewer's retransmissions per second
	// (a burst of as many).
	ViewerRetransmits int
	// NodeRetransmits caps the node's retransmissions per second.
	NodeRetransmits int
	// NodeKeyframeRequests caps the keyframe requests (PLIs) the node
	// sends all its publishers per second, on top of each source's own
	// coalescing (one per keyframe interval).
	NodeKeyframeRequests int
}

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

// overload is the node's share of the caps. Its zero value caps nothing
// (the fan-out benchmarks build an SFU without New).
type overload struct {
	cfg      Overload
	now      func() time.Time // nil: time.Now; tests fix it
	nodeNack *rate.Limiter    // nil: no cap
	nodeKey  *rate.Limiter

	// The egress measurement (sampleEgress) and what it projects.
	rate       atomic.Int64 // forwarded packets/s in the last window
	viewers    atomic.Int64 // viewers attached to rooms
	admits     atomic.Int64 // subscribers admitted since the last window
	lastAdmits atomic.Int64 // and in the window before: not yet in the rate
	lastTotal  float64      // the sampler's
	lastAt     time.Time

	stop, done chan struct{} // the sampler's; nil when it does not run
}

func (o *overload) init(cfg Overload) {
	o.cfg = cfg
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

// admitSubscriber refuses a new subscriber while the node's egress, with
// what the subscribers admitted since the last measurement will add, is
// at its budget.
func (s *SFU) admitSubscriber() error {
	o := &s.ov
	if o.cfg.EgressBudget <= 0 {
		return nil
	}
	r := o.rate.Load()
	perViewer := r / max(o.viewers.Load(), 1)
	projected := r + (o.admits.Load()+o.lastAdmits.Load())*perViewer
	if projected >= int64(o.cfg.EgressBudget) {
		s.m.shed[shedSubscribers].Inc()
		return ErrOverloaded
	}
	o.admits.Add(1)
	return nil
}

// startEgressSampler measures the egress rate every egressEvery while an
// egress budget is set; Close stops it.
func (s *SFU) startEgressSampler() {
	o := &s.ov
	if o.cfg.EgressBudget <= 0 {
		return
	}
	o.stop, o.done = make(chan struct{}), make(chan struct{})
	o.lastAt, o.lastTotal = time.Now(), s.egressTotal()
	go func() {
		defer close(o.done)
		t := time.NewTicker(egressEvery)
		defer t.Stop()
		for {
			select {
			case <-o.stop:
				return
			case now := <-t.C:
				s.sampleEgress(now, s.egressTotal())
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

// sampleEgress turns the packets forwarded so far (total) into the rate
// since the last sample.
func (s *SFU) sampleEgress(now time.Time, total float64) {
	o := &s.ov
	el := now.Sub(o.lastAt).Seconds()
	if el <= 0 {
		return
	}
	r := int64((total - o.lastTotal) / el)
	o.lastAt, o.lastTotal = now, total
	o.rate.Store(r)
	o.lastAdmits.Store(o.admits.Swap(0))
	s.m.egressRate.Set(float64(r))
}

// egressTotal is every packet forwarded and retransmitted so far, read
// from the counters the writers keep anyway (nothing added per packet).
func (s *SFU) egressTotal() float64 {
	var sum float64
	for _, c := range []prometheus.Counter{s.m.forwardedPackets[audioIdx], s.m.forwardedPackets[videoIdx], s.m.retransmitted} {
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
		"egress_budget": c.EgressBudget, "viewer_retransmits": c.ViewerRetransmits,
		"node_retransmits": c.NodeRetransmits, "node_keyframe_requests": c.NodeKeyframeRequests,
	} {
		s.m.mediaLimit.WithLabelValues(name).Set(float64(v))
	}
}
