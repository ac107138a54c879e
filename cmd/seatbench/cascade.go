package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/seatsfu/seatsfu/bench/load"
	"github.com/seatsfu/seatsfu/bench/proc"
	"github.com/seatsfu/seatsfu/internal/redistest"
)

// runCascade is `seatbench cascade`: a redis-server and three seatsfu
// nodes on loopback, one room hosted on node 1, its audience growing on
// nodes 2 and 3 (PROTOCOL.md §12's media cascade), then the same audience
// on node 1 alone. It prints a Markdown table and writes cascade.json.
//
//	seatbench cascade -steps 20,200 -duration 15s -out bench/out
func runCascade(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("cascade", flag.ContinueOnError)
	steps := fs.String("steps", "20,200", "comma-separated remote audience sizes, growing (split over nodes 2 and 3)")
	guests := fs.Int("guests", 0, "co-guests besides the host (0..9)")
	nodes := fs.Int("nodes", 3, "nodes in the cluster (the first hosts the room)")
	duration := fs.Duration("duration", 15*time.Second, "measuring window per step")
	warmup := fs.Duration("warmup", 3*time.Second, "warm-up before measuring")
	single := fs.Bool("single", true, "also serve the largest audience from node 1 alone, in the same run")
	nack := fs.Bool("viewer-nack", true, "viewers NACK lost packets, so loss is measured after repair")
	out := fs.String("out", "bench/out", "output directory")
	bin := fs.String("seatsfu", "", "seatsfu binary (default: go build ./cmd/seatsfu)")
	redisBin := fs.String("redis-server", "redis-server", "redis-server binary")
	progress := fs.Bool("progress", true, "progress bar on stderr")
	saved := fs.String("report", "", "print the report of a saved cascade.json instead of running")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *saved != "" {
		b, err := os.ReadFile(*saved)
		if err != nil {
			return err
		}
		var res load.CascadeResult
		if err := json.Unmarshal(b, &res); err != nil {
			return fmt.Errorf("-report %s: %w", *saved, err)
		}
		fmt.Print(cascadeMarkdown(&res))
		return nil
	}
	cfg := load.CascadeConfig{Guests: *guests, Warmup: *warmup, Duration: *duration, SingleNode: *single, ViewerNACK: *nack}
	for _, s := range strings.Split(*steps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-steps: %q is not a positive count", s)
		}
		cfg.Steps = append(cfg.Steps, n)
	}
	if *nodes < 2 || *nodes > 9 {
		return errors.New("-nodes must be 2..9")
	}
	if *progress {
		cfg.Progress = os.Stderr
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}

	path, cleanup, err := buildSeatsfu(ctx, *bin)
	defer cleanup()
	if err != nil {
		return err
	}
	redisURL, stopRedis, err := startRedis(*redisBin)
	if err != nil {
		return err
	}
	defer stopRedis()
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	secret := hex.EncodeToString(raw)
	var cluster []load.CascadeNode
	for i := range *nodes {
		n, stop, err := startNode(ctx, path, fmt.Sprintf("node%d", i+1), secret, redisURL)
		if err != nil {
			return err
		}
		defer stop()
		cluster = append(cluster, n)
	}
	res, err := load.Cascade(ctx, cluster, []byte(secret), "cascade", cfg)
	if res != nil {
		res.Command = "seatbench cascade " + strings.Join(args, " ")
		b, _ := json.MarshalIndent(res, "", "  ")
		if werr := os.WriteFile(filepath.Join(*out, "cascade.json"), b, 0o644); werr != nil && err == nil {
			err = werr
		}
		fmt.Print(cascadeMarkdown(res))
	}
	return err
}

// buildSeatsfu returns bin, or builds ./cmd/seatsfu into a temporary
// directory the cleanup removes.
func buildSeatsfu(ctx context.Context, bin string) (string, func(), error) {
	if bin != "" {
		return bin, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "seatbench-cascade-")
	if err != nil {
		return "", func() {}, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	path := filepath.Join(dir, "seatsfu")
	build := exec.CommandContext(ctx, "go", "build", "-o", path, "./cmd/seatsfu")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return "", cleanup, fmt.Errorf("build seatsfu (run from the module root, or pass -seatsfu): %w", err)
	}
	return path, cleanup, nil
}

// startNode starts one cluster node on loopback ports of its own.
func startNode(ctx context.Context, path, name, secret, redisURL string) (load.CascadeNode, func(), error) {
	port, err := proc.FreeTCPPort()
	if err != nil {
		return load.CascadeNode{}, func() {}, err
	}
	udp, err := proc.FreeUDPPort()
	if err != nil {
		return load.CascadeNode{}, func() {}, err
	}
	nodePort, err := proc.FreeTCPPort()
	if err != nil {
		return load.CascadeNode{}, func() {}, err
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	args := []string{"serve", "--http", fmt.Sprintf("127.0.0.1:%d", port), "--rtc-udp-port", strconv.Itoa(udp),
		"--rtc-ip", "127.0.0.1", "--secret", secret, "--log-level", "error",
		"--redis", redisURL, "--node-addr", fmt.Sprintf("127.0.0.1:%d", nodePort), "--public-url", base}
	s, err := proc.Start(ctx, proc.Spec{Name: name, Path: path, Args: args, BaseURL: base, CPU: -1, Stderr: io.Discard})
	if err != nil {
		return load.CascadeNode{}, func() {}, fmt.Errorf("%s: %w", name, err)
	}
	n := load.CascadeNode{
		Server: load.Server{Name: name, PID: s.PID(), BaseURL: base, Pinned: "not pinned", UDPPort: udp},
		WSURL:  fmt.Sprintf("ws://127.0.0.1:%d/v1/rtc", port),
	}
	return n, func() { _ = s.Stop() }, nil
}

// startRedis runs redis-server on a free loopback port, without
// persistence, and waits for it to answer PING.
func startRedis(bin string) (string, func(), error) {
	path, err := exec.LookPath(bin)
	if err != nil {
		return "", nil, fmt.Errorf("redis-server not found (apt-get install redis-server, or -redis-server PATH): %w", err)
	}
	port, err := proc.FreeTCPPort()
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "seatbench-redis-")
	if err != nil {
		return "", nil, err
	}
	srv, err := redistest.Launch(path, port, dir)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return srv.URL(), func() { srv.Kill(); os.RemoveAll(dir) }, nil
}

// cascadeMarkdown is the run's report: one row per node per step, then
// what the figures say about capacity.
func cascadeMarkdown(r *load.CascadeResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## seatbench cascade\n\n`%s` — %d CPUs, %d guest(s) besides the host; every node and the load generator share this machine's cores.\n\n", r.Command, r.CPUs, r.Guests)
	b.WriteString("| layout | viewers | node | its viewers | CPU % of a core | forwarded pkt/s | CPU µs/pkt | viewers' loss % (unrecovered) |\n|---|---|---|---|---|---|---|---|\n")
	for _, s := range r.Steps {
		for _, n := range s.Nodes {
			fmt.Fprintf(&b, "| %s | %d | %s | %d | %.1f | %.0f | %.2f | %s |\n", s.Layout, s.Connected, n.Name, n.Viewers, n.CPUPct, n.ForwardedPPS, n.CPUPerPacketUs, lossCell(n))
		}
	}
	b.WriteString("\n| layout | viewers | delivered / expected pkt/s | loss % (unrecovered) | generator CPU % | machine CPU % (all cores) | errors |\n|---|---|---|---|---|---|---|\n")
	for _, s := range r.Steps {
		fmt.Fprintf(&b, "| %s | %d | %.0f / %.0f | %.3f (%.3f) | %.0f | %.0f | %d |\n", s.Layout, s.Connected, s.DeliveredPPS, s.ExpectedPPS, s.LossPct, s.UnrecoveredPct, s.GeneratorCPUPct, s.MachineCPUPct, len(s.Errors))
	}
	b.WriteString(cascadeCapacity(r))
	return b.String()
}

func lossCell(n load.CascadeNodeFigures) string {
	if n.Viewers == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3f (%.3f)", n.LossPct, n.UnrecoveredPct)
}

// cascadeCapacity turns the figures into viewers per core. Costs are
// marginal CPU per forwarded packet (between two windows of the same
// node), times the packets one viewer should get: a window in which a
// node fell behind (forwarded less than its viewers needed, on a saturated
// machine) then does not make its viewers look cheap.
func cascadeCapacity(r *load.CascadeResult) string {
	var casc []load.CascadeStep
	var alone *load.CascadeStep
	for i := range r.Steps {
		if r.Steps[i].Layout == "cascade" {
			casc = append(casc, r.Steps[i])
		} else {
			alone = &r.Steps[i]
		}
	}
	if len(casc) < 2 || alone == nil || alone.Connected == 0 {
		return ""
	}
	first, last := casc[0], casc[len(casc)-1]
	edges := len(last.Nodes) - 1
	var b strings.Builder
	fmt.Fprintf(&b, "\n**Host CPU while the remote audience grew %d → %d:** %.1f%% → %.1f%% of a core (forwarded %.0f → %.0f pkt/s, to %.0f → %.0f cascades).\n",
		first.Connected, last.Connected, first.Nodes[0].CPUPct, last.Nodes[0].CPUPct, first.Nodes[0].ForwardedPPS, last.Nodes[0].ForwardedPPS, first.Nodes[0].Cascades, last.Nodes[0].Cascades)
	perViewerPPS := alone.ExpectedPPS / float64(alone.Connected)
	// Cascading, the host forwards to one subscriber per edge; alone, to
	// every viewer: the difference is the viewers' marginal cost.
	hostCPU, hostPkts := alone.Nodes[0].CPUPct-last.Nodes[0].CPUPct, alone.Nodes[0].ForwardedPPS-last.Nodes[0].ForwardedPPS
	var edgeCPU, edgePkts, edgeCPU0, edgePkts0 float64
	for i := 1; i <= edges; i++ {
		edgeCPU += last.Nodes[i].CPUPct - first.Nodes[i].CPUPct
		edgePkts += last.Nodes[i].ForwardedPPS - first.Nodes[i].ForwardedPPS
		edgeCPU0 += first.Nodes[i].CPUPct
		edgePkts0 += first.Nodes[i].ForwardedPPS
	}
	if hostCPU <= 0 || hostPkts <= 0 || edgeCPU <= 0 || edgePkts <= 0 {
		b.WriteString("(A node's CPU or packets did not grow with its viewers: too small or too noisy a run to estimate capacity.)\n")
		return b.String()
	}
	hostPerViewer := hostCPU / hostPkts * perViewerPPS // % of a core
	hostFixed := max(0, last.Nodes[0].CPUPct-hostCPU/hostPkts*last.Nodes[0].ForwardedPPS)
	alone1 := (100 - hostFixed) / hostPerViewer
	fmt.Fprintf(&b, "**One node:** %d viewers took %.1f%% of a core on the host alone (it forwarded %.0f of the %.0f pkt/s they needed); "+
		"marginal %.2f µs a packet, %.3f%% of a core a viewer, fixed %.1f%%: about %.0f viewers per core.\n",
		alone.Connected, alone.Nodes[0].CPUPct, alone.Nodes[0].ForwardedPPS, alone.ExpectedPPS, hostCPU/hostPkts*1e4, hostPerViewer, hostFixed, alone1)
	edgePerViewer := edgeCPU / edgePkts * perViewerPPS
	edgeFixed := max(0, edgeCPU0-edgeCPU/edgePkts*edgePkts0) / float64(edges)
	perEdge := (100 - edgeFixed) / edgePerViewer
	hostLeft := max(0, 100-last.Nodes[0].CPUPct) / hostPerViewer
	fmt.Fprintf(&b, "**%d nodes:** an edge node's marginal cost is %.2f µs a packet, %.3f%% of a core a viewer, plus %.1f%% fixed for its cascade: about %.0f viewers per core. "+
		"Per core of each of %d machines this predicts %.0f viewers (%d edges × %.0f, plus %.0f the host still has room for) against %.0f for one machine. "+
		"This box's %d cores cannot show the sum directly: the nodes and the generator share them, so the run measures per-node costs, not added capacity.\n",
		len(last.Nodes), edgeCPU/edgePkts*1e4, edgePerViewer, edgeFixed, perEdge, len(last.Nodes), float64(edges)*perEdge+hostLeft, edges, perEdge, hostLeft, alone1, r.CPUs)
	return b.String()
}
