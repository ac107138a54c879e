package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/seatsfu/seatsfu/bench/load"
)

// The livekit target lives in its own Go module (bench/livekit), so this
// module never depends on LiveKit. seatbench builds its runner, lkbench,
// with `go build -C bench/livekit` (or takes -lkbench), and runs it once
// per step: lkbench starts the LiveKit server binary pinned to the server
// core, drives it with the same publishers and viewers (bench/load.Fanout)
// and prints one load.Result as JSON on stdout.

// prepareLivekit builds lkbench, or drops the livekit target with a
// one-line reason when no LiveKit binary was given.
func (b *bench) prepareLivekit(ctx context.Context) error {
	if b.o.livekitBin == "" {
		b.o.targets = slices.DeleteFunc(b.o.targets, func(t string) bool { return t == "livekit" })
		const why = "livekit target skipped: no LiveKit server binary given (-livekit-bin PATH)"
		fmt.Fprintln(os.Stderr, why)
		b.run.Notes = append(b.run.Notes, why)
		return nil
	}
	if b.o.lkbenchBin != "" {
		return nil
	}
	bin, err := filepath.Abs(filepath.Join(b.o.out, "lkbench.bin"))
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "building bench/livekit/cmd/lkbench …")
	c := exec.CommandContext(ctx, "go", "build", "-C", "bench/livekit", "-o", bin, "./cmd/lkbench")
	c.Stderr = os.Stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("build lkbench (run from the module root, or pass -lkbench): %w", err)
	}
	b.o.lkbenchBin = bin
	return nil
}

// runLivekit runs one livekit step through lkbench.
func (b *bench) runLivekit(ctx context.Context, j job) (*load.Result, error) {
	if j.scenario != "fanout" && j.scenario != "join" {
		return nil, fmt.Errorf("lkbench runs fanout and join only, not %s", j.scenario)
	}
	o := b.o
	out, err := b.lkbench(ctx, j.scenario, j.viewers,
		"-duration", o.duration.String(),
		"-probe-metrics", o.probe.String())
	if err != nil {
		return nil, err
	}
	var r load.Result
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("lkbench printed no result: %w: %q", err, strings.TrimSpace(string(out)))
	}
	return &r, nil
}

// lkbench runs lkbench's scenario at viewers with the flags every run
// shares and more, and returns what it printed.
func (b *bench) lkbench(ctx context.Context, scenario string, viewers int, more ...string) ([]byte, error) {
	o := b.o
	args := []string{scenario,
		"-livekit-bin", o.livekitBin,
		"-viewers", strconv.Itoa(viewers),
		"-guests", strconv.Itoa(o.guests),
		"-warmup", o.warmup.String(),
		"-server-cpu", strconv.Itoa(b.serverCPU),
		"-server-log", b.logPath,
		fmt.Sprintf("-progress=%v", b.progress != nil),
		fmt.Sprintf("-viewer-nack=%v", o.viewerNACK),
	}
	if b.serverCPU >= 0 {
		args = append(args, "-generator-cpu", "0")
	}
	c := exec.CommandContext(ctx, o.lkbenchBin, append(args, more...)...)
	var stdout bytes.Buffer
	c.Stdout = &stdout
	c.Stderr = b.log
	if b.progress != nil {
		c.Stderr = b.progress // lkbench's progress bar and errors
	}
	if err := c.Run(); err != nil {
		return nil, fmt.Errorf("lkbench: %w", err)
	}
	return stdout.Bytes(), nil
}

// scenarioAlternatingLK is -alternate's livekit job for one step: LiveKit
// beside a seatsfu server of its own (the seatsfu-lk target), measured in
// alternating slices by lkbench, whose one generator drives both. LiveKit's
// generator is lkbench's process, so it cannot join the slices of
// seatbench's own targets.
const scenarioAlternatingLK = "fanout-alternating-livekit"

// runLivekitAlternating starts the seatsfu server for the pairing and
// runs lkbench fanout-alternating against it and a LiveKit server. When
// raw-batched is among the targets, a raw-batched baseline joins the same
// slices (raw-batched-lk): LiveKit ÷ raw-batched-lk is what LiveKit ÷
// seatsfu-lk would be were seatsfu as cheap a packet as the machine's best
// path, measured from the same generator in the same minute.
func (b *bench) runLivekitAlternating(ctx context.Context, j job, seatsfuBin string) ([]*load.Result, error) {
	o := b.o
	s, err := b.start(ctx, "seatsfu", seatsfuBin)
	if err != nil {
		return nil, err
	}
	defer s.p.Stop()
	args := []string{
		"-slice", o.alternate.String(),
		"-slices", strconv.Itoa(o.slices),
		"-seatsfu-ws", s.ws,
		"-seatsfu-base", s.info.BaseURL,
		"-seatsfu-secret", string(s.secret),
		"-seatsfu-pid", strconv.Itoa(s.info.PID),
		"-seatsfu-udp", strconv.Itoa(s.info.UDPPort)}
	if slices.Contains(o.targets, "raw-batched") {
		raw, err := b.start(ctx, "raw-batched", "")
		if err != nil {
			return nil, err
		}
		defer raw.p.Stop()
		args = append(args, "-raw-batched-base", raw.info.BaseURL, "-raw-batched-pid", strconv.Itoa(raw.info.PID))
	}
	out, err := b.lkbench(ctx, "fanout-alternating", j.viewers, args...)
	if err != nil {
		return nil, err
	}
	var rs []*load.Result
	if err := json.Unmarshal(out, &rs); err != nil {
		return nil, fmt.Errorf("lkbench printed no results: %w: %q", err, strings.TrimSpace(string(out)))
	}
	if len(rs) == 0 {
		return nil, errors.New("lkbench printed an empty list of results")
	}
	lk := rs[len(rs)-1] // lkbench's legs: seatsfu-lk, [raw-batched-lk,] livekit
	for _, r := range rs[:len(rs)-1] {
		if n := sliceRatios(lk, r); n != "" {
			b.run.Notes = append(b.run.Notes, fmt.Sprintf("fanout V=%d, alternating: livekit ÷ %s CPU/pkt round by round: %s", j.viewers, r.Target, n))
		}
	}
	return rs, nil
}
