package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/seatsfu/seatsfu/bench/peer"
	"github.com/seatsfu/seatsfu/bench/proc"
	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/token"
)

// The cascade scenario (PROTOCOL.md §12): one room hosted on the first
// node, its publishers on that node, and viewers joining through the other
// nodes, which relay their signalling to the host and serve their media
// from a local mirror fed by one cascade subscription per node. The claim
// under test is that the host's cost does not grow with the audience of
// the other nodes: per remote node it serves one subscriber.
//
// Each step grows the remote audience (split evenly over the edge nodes)
// and measures every node's CPU, the packets it forwarded and its viewers'
// loss. A last step serves the largest audience from the host alone, in
// the same run, so one run shows both layouts on the same machine.

// CascadeNode is one node of the cluster under test.
type CascadeNode struct {
	Server Server
	WSURL  string // the node's /v1/rtc
}

// CascadeConfig sizes a cascade run.
type CascadeConfig struct {
	// Steps are the remote audience sizes, growing; each is split evenly
	// over the nodes after the first.
	Steps    []int
	Guests   int // co-guests besides the host (0..9)
	Warmup   time.Duration
	Duration time.Duration
	Parallel int // concurrent viewer connects (default 8)
	// SingleNode adds a last step: the largest audience served by the
	// host alone.
	SingleNode bool
	ViewerNACK bool
	Progress   io.Writer
}

func (c *CascadeConfig) check(nodes int) error {
	switch {
	case nodes < 2:
		return errors.New("load: the cascade needs a host and at least one other node")
	case len(c.Steps) == 0:
		return errors.New("load: no steps")
	case c.Guests < 0 || c.Guests > 9:
		return fmt.Errorf("load: guests must be 0..9, got %d", c.Guests)
	case c.Duration <= 0:
		return errors.New("load: duration must be positive")
	}
	for i, n := range c.Steps {
		if n < 1 || (i > 0 && n < c.Steps[i-1]) {
			return fmt.Errorf("load: steps must be positive and growing, got %v", c.Steps)
		}
	}
	if c.Parallel <= 0 {
		c.Parallel = 8
	}
	return nil
}

// CascadeNodeFigures is one node's share of a measuring window.
type CascadeNodeFigures struct {
	Name    string `json:"name"`
	Viewers int    `json:"viewers"` // viewers connected through this node
	// CPUPct is the node's CPU in percent of one core (its CPU seconds
	// per second).
	CPUPct float64 `json:"cpuPercentOfOneCore"`
	// ForwardedPPS is what the node's sfu sent (seatsfu_forwarded_packets_total):
	// to its viewers, and on the host also to the cascade subscriptions.
	ForwardedPPS   float64 `json:"forwardedPktPerSec"`
	CPUPerPacketUs float64 `json:"cpuMicrosPerPacket"`
	// LossPct is the source packets this node's viewers missed in the
	// window, of those expected (NACK-repaired ones included);
	// UnrecoveredPct those never received.
	LossPct        float64 `json:"windowLossPct"`
	UnrecoveredPct float64 `json:"windowUnrecoveredPct"`
	// Cascades is seatsfu_cascades at the window's end: on the host the
	// subscriptions it serves to other nodes, on an edge the one it holds.
	Cascades float64 `json:"cascades"`
}

// CascadeStep is one measuring window.
type CascadeStep struct {
	Layout    string               `json:"layout"` // "cascade" or "host only"
	Viewers   int                  `json:"viewers"`
	Connected int                  `json:"viewersConnected"`
	Seconds   float64              `json:"seconds"`
	Nodes     []CascadeNodeFigures `json:"nodes"`
	// DeliveredPPS is the publishers' packets all viewers received, each
	// counted once (retransmissions, duplicates and padding are not);
	// ExpectedPPS what a lossless cluster delivers (connected viewers ×
	// published rate).
	DeliveredPPS   float64 `json:"deliveredPktPerSec"`
	ExpectedPPS    float64 `json:"expectedPktPerSec"`
	LossPct        float64 `json:"windowLossPct"`
	UnrecoveredPct float64 `json:"windowUnrecoveredPct"`
	// GeneratorCPUPct and MachineCPUPct (all cores summed, in percent of
	// one core) say how busy the box was: on a machine smaller than the
	// cluster, the nodes and the generator compete for the same cores.
	GeneratorCPUPct float64  `json:"generatorCpuPercent"`
	MachineCPUPct   float64  `json:"machineCpuPercent"`
	Errors          []string `json:"errors,omitempty"`
}

// CascadeResult is a whole run.
type CascadeResult struct {
	Command string        `json:"command,omitempty"` // how the run was started, for the report
	Guests  int           `json:"guests"`
	CPUs    int           `json:"cpus"`
	Steps   []CascadeStep `json:"steps"`
}

// cascadeRun is one run's cast.
type cascadeRun struct {
	cfg    CascadeConfig
	nodes  []CascadeNode
	secret []byte
	room   string
	st     *stage
	seats  int

	mu     sync.Mutex
	byNode [][]Viewer // connected viewers by node
	nextID int
}

// Cascade runs the cascade scenario against nodes (the first hosts the
// room); secret is the cluster's shared token secret.
func Cascade(ctx context.Context, nodes []CascadeNode, secret []byte, room string, cfg CascadeConfig) (*CascadeResult, error) {
	if err := cfg.check(len(nodes)); err != nil {
		return nil, err
	}
	st, err := newStage(cfg.ViewerNACK)
	if err != nil {
		return nil, err
	}
	run := &cascadeRun{cfg: cfg, nodes: nodes, secret: secret, room: room, st: st, seats: cfg.Guests + 1, byNode: make([][]Viewer, len(nodes))}
	defer st.close() // the publishers, last
	defer run.closeAll()
	host, err := NewSeatsfuTarget(ctx, nodes[0].Server, nodes[0].WSURL, secret, room, max(run.seats, 2))
	if err != nil {
		return nil, err
	}
	defer host.Close()
	for seat := 0; seat < run.seats; seat++ {
		if _, err := st.publish(ctx, seat, 0, func(ctx context.Context, offer string) (string, error) {
			return host.Publish(ctx, seat, offer)
		}); err != nil {
			return nil, err
		}
	}
	res := &CascadeResult{Guests: cfg.Guests, CPUs: runtime.NumCPU()}
	for _, n := range cfg.Steps {
		step, err := run.step(ctx, "cascade", n, func(i int) int { return 1 + i%(len(nodes)-1) })
		if err != nil {
			return res, err
		}
		res.Steps = append(res.Steps, *step)
	}
	if cfg.SingleNode {
		run.closeAll()
		n := cfg.Steps[len(cfg.Steps)-1]
		step, err := run.step(ctx, "host only", n, func(int) int { return 0 })
		if err != nil {
			return res, err
		}
		res.Steps = append(res.Steps, *step)
	}
	return res, nil
}

// step grows the audience to n viewers, placing viewer i on node place(i),
// and measures one window.
func (r *cascadeRun) step(ctx context.Context, layout string, n int, place func(int) int) (*CascadeStep, error) {
	have := r.connected()
	bar := newBar(r.cfg.Progress, fmt.Sprintf("cascade %s V=%d", layout, n))
	var errs []string
	var emu sync.Mutex
	sem := make(chan struct{}, r.cfg.Parallel)
	var wg sync.WaitGroup
	var done int
	for i := have; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			node := place(i)
			v, err := r.addViewer(ctx, node)
			emu.Lock()
			defer emu.Unlock()
			if err != nil {
				if len(errs) < 10 {
					errs = append(errs, err.Error())
				}
				return
			}
			r.mu.Lock()
			r.byNode[node] = append(r.byNode[node], v)
			r.mu.Unlock()
			done++
			bar.show(float64(done)/float64(n-have), fmt.Sprintf("connecting %d/%d", done, n-have))
		}()
	}
	wg.Wait()
	step := &CascadeStep{Layout: layout, Viewers: n, Connected: r.connected(), Errors: errs}
	if step.Connected == 0 {
		bar.done()
		return nil, fmt.Errorf("load: no viewer connected: %v", errs)
	}
	if err := sleepBar(ctx, bar, r.cfg.Warmup, "warm-up", r.st.sink); err != nil {
		return nil, err
	}
	before := r.sample()
	if err := sleepBar(ctx, bar, r.cfg.Duration, "measuring", r.st.sink); err != nil {
		return nil, err
	}
	after := r.sample()
	bar.done()
	r.figures(step, before, after)
	return step, nil
}

// sample is everything a window is measured from, at one moment.
type cascadeSample struct {
	at        time.Time
	cpu       []time.Duration
	forwarded []float64
	cascades  []float64
	tally     []sourceTally
	lost      []uint64 // source packets never received
	packets   []uint64 // the publishers' packets each node's viewers received, once each
	gen       time.Duration
	machine   proc.Machine
}

func (r *cascadeRun) sample() cascadeSample {
	s := cascadeSample{at: time.Now()}
	for i, n := range r.nodes {
		u, _ := n.Server.Usage()
		f, _ := n.Server.Metric("seatsfu_forwarded_packets_total")
		c, _ := n.Server.Metric("seatsfu_cascades")
		s.cascades = append(s.cascades, c)
		s.cpu = append(s.cpu, u.CPU)
		s.forwarded = append(s.forwarded, f)
		r.mu.Lock()
		views := append([]Viewer(nil), r.byNode[i]...)
		r.mu.Unlock()
		var t sourceTally
		var pk, lost uint64
		for _, v := range views {
			for _, tr := range v.Report() {
				t.expected += tr.Expected
				t.gaps += tr.Source.Gaps
				lost += tr.Unrecovered
				pk += tr.Source.Unique
			}
		}
		s.tally = append(s.tally, t)
		s.lost = append(s.lost, lost)
		s.packets = append(s.packets, pk)
	}
	g, _ := proc.ReadUsage(os.Getpid())
	s.gen = g.CPU
	s.machine, _ = proc.ReadMachine()
	return s
}

func (r *cascadeRun) figures(step *CascadeStep, a, b cascadeSample) {
	secs := b.at.Sub(a.at).Seconds()
	step.Seconds = secs
	var exp, gaps, lost, pk uint64
	for i, n := range r.nodes {
		f := CascadeNodeFigures{Name: n.Server.Name, Viewers: len(r.byNode[i]), Cascades: b.cascades[i]}
		cpu := (b.cpu[i] - a.cpu[i]).Seconds()
		f.CPUPct = 100 * cpu / secs
		fwd := b.forwarded[i] - a.forwarded[i]
		f.ForwardedPPS = fwd / secs
		if fwd > 0 {
			f.CPUPerPacketUs = cpu * 1e6 / fwd
		}
		if e := b.tally[i].expected - a.tally[i].expected; e > 0 {
			f.LossPct = 100 * float64(b.tally[i].gaps-a.tally[i].gaps) / float64(e)
			f.UnrecoveredPct = 100 * float64(b.lost[i]-a.lost[i]) / float64(e)
		}
		exp += b.tally[i].expected - a.tally[i].expected
		gaps += b.tally[i].gaps - a.tally[i].gaps
		lost += b.lost[i] - a.lost[i]
		pk += b.packets[i] - a.packets[i]
		step.Nodes = append(step.Nodes, f)
	}
	if exp > 0 {
		step.LossPct = 100 * float64(gaps) / float64(exp)
		step.UnrecoveredPct = 100 * float64(lost) / float64(exp)
	}
	step.DeliveredPPS = float64(pk) / secs
	step.ExpectedPPS = r.st.publishedPPS() * float64(step.Connected)
	step.GeneratorCPUPct = 100 * (b.gen - a.gen).Seconds() / secs
	step.MachineCPUPct = 100 * (b.machine.Busy - a.machine.Busy).Seconds() / secs
}

func (r *cascadeRun) connected() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, vs := range r.byNode {
		n += len(vs)
	}
	return n
}

// relayJoinWait bounds how long a viewer retries joining through a node
// that has not yet seen the host's registration (one cluster tick).
const relayJoinWait = 10 * time.Second

// addViewer joins a fresh audience member through node and subscribes it
// to every seat.
func (r *cascadeRun) addViewer(ctx context.Context, node int) (Viewer, error) {
	r.mu.Lock()
	user := fmt.Sprintf("viewer%d", r.nextID)
	r.nextID++
	r.mu.Unlock()
	tok, err := token.Mint(r.secret, token.Identity{UserID: user, Room: r.room, Role: proto.RoleAudience}, time.Hour)
	if err != nil {
		return nil, err
	}
	c, err := joinRetrying(ctx, r.nodes[node].WSURL, tok)
	if err != nil {
		return nil, fmt.Errorf("load: %s through %s: %w", user, r.nodes[node].Server.Name, err)
	}
	v, offer, err := peer.NewViewer(r.st.api, r.st.sink, r.seats)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	answer, _, err := c.Subscribe(ctx, offer)
	if err == nil {
		err = v.Accept(answer)
	}
	if err != nil {
		_ = v.Close()
		_ = c.Close()
		return nil, fmt.Errorf("load: %s subscribe through %s: %w", user, r.nodes[node].Server.Name, err)
	}
	return seatsfuViewer{v, c}, nil
}

// joinRetrying dials and joins, retrying while the node does not yet
// know where the room is hosted.
func joinRetrying(ctx context.Context, wsURL, tok string) (*client.Client, error) {
	deadline := time.Now().Add(relayJoinWait)
	for {
		c, err := client.Dial(ctx, wsURL, tok, client.WithEventLog(64))
		if err == nil {
			if _, err = c.Join(ctx, nil); err == nil {
				return c, nil
			}
			_ = c.Close()
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// closeAll closes every viewer (the publishers stay).
func (r *cascadeRun) closeAll() {
	r.mu.Lock()
	var all []Viewer
	for i, vs := range r.byNode {
		all = append(all, vs...)
		r.byNode[i] = nil
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, v := range all {
		wg.Add(1)
		go func() { defer wg.Done(); _ = v.Close() }()
	}
	wg.Wait()
}
