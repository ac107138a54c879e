package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/seatsfu/seatsfu/bench/load"
	"github.com/seatsfu/seatsfu/bench/report"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags("all", []string{"-steps", "10, 20", "-targets", "raw,seatsfu", "-guests", "3"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.steps, []int{10, 20}) || !reflect.DeepEqual(o.targets, []string{"raw", "seatsfu"}) || o.guests != 3 || o.repeat != 1 {
		t.Fatalf("parsed %+v", o)
	}
	for _, bad := range [][]string{
		{"-steps", "10,x"}, {"-steps", "0"}, {"-targets", "janus"}, {"-guests", "10"}, {"-repeat", "0"},
	} {
		if _, err := parseFlags("fanout", bad); err == nil {
			t.Errorf("parseFlags(%v) accepted bad flags", bad)
		}
	}
}

// The plan interleaves targets within each step, so background load hits
// every target alike, and only seatsfu gets the seat scenarios.
func TestPlanInterleavesTargets(t *testing.T) {
	o, err := parseFlags("all", []string{"-steps", "10,20", "-viewers", "5", "-join-viewers", "7", "-targets", "seatsfu,raw,naive"})
	if err != nil {
		t.Fatal(err)
	}
	got := (&bench{o: o}).plan("all")
	want := []job{
		jb("fanout", "seatsfu", 10), jb("fanout", "raw", 10), jb("fanout", "naive", 10),
		jb("fanout", "seatsfu", 20), jb("fanout", "raw", 20), jb("fanout", "naive", 20),
		jb("join", "seatsfu", 7), jb("join", "raw", 7), jb("join", "naive", 7),
		jb("handover", "seatsfu", 5), jb("churn", "seatsfu", 5),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("plan\n got %v\nwant %v", got, want)
	}
	if got := (&bench{o: o}).plan("handover"); !reflect.DeepEqual(got, []job{jb("handover", "seatsfu", 5)}) {
		t.Fatalf("handover plan %v", got)
	}
}

func jb(scenario, target string, viewers int) job {
	return job{scenario: scenario, target: target, viewers: viewers}
}

// With -alternate, a step's targets but livekit are one job, measured
// together; livekit is another, beside a seatsfu of its own (lkbench's
// generator drives it).
func TestPlanAlternatesTargetsOfAStep(t *testing.T) {
	o, err := parseFlags("fanout", []string{"-steps", "10,20", "-alternate", "2s", "-targets", "seatsfu,raw-batched,livekit"})
	if err != nil {
		t.Fatal(err)
	}
	got := (&bench{o: o}).plan("fanout")
	alt := func(v int) job {
		return job{scenario: scenarioAlternating, viewers: v, targets: []string{"seatsfu", "raw-batched"}}
	}
	want := []job{jb(scenarioAlternatingLK, "livekit", 10), alt(10), jb(scenarioAlternatingLK, "livekit", 20), alt(20)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("plan\n got %v\nwant %v", got, want)
	}
	// One target besides livekit has nothing to alternate with.
	o, err = parseFlags("fanout", []string{"-steps", "10", "-alternate", "2s", "-targets", "seatsfu,livekit"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := (&bench{o: o}).plan("fanout"), []job{jb(scenarioAlternatingLK, "livekit", 10), jb("fanout", "seatsfu", 10)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("plan\n got %v\nwant %v", got, want)
	}
	if _, err := parseFlags("fanout", []string{"-alternate", "2s", "-slices", "0"}); err == nil {
		t.Fatal("-slices 0 accepted")
	}
}

func TestRunRejectsUnknownCommand(t *testing.T) {
	if err := run(t.Context(), []string{"bogus"}); err == nil {
		t.Fatal("unknown subcommand accepted")
	}
	if err := run(t.Context(), nil); err == nil {
		t.Fatal("no subcommand accepted")
	}
}

// Every ratio is taken per repeat, from two windows of the same repeat,
// with the worse window's server-core noise beside it; a pair with a
// missing side gives no value.
func TestSummariseRatiosPerRepeat(t *testing.T) {
	o, err := parseFlags("fanout", []string{"-steps", "10", "-repeat", "2", "-targets", "seatsfu,raw,livekit"})
	if err != nil {
		t.Fatal(err)
	}
	res := func(target string, rep int, cpu, noise float64) *load.Result {
		return &load.Result{Scenario: "fanout", Target: target, Viewers: 10, Connected: 10, Repeat: rep, CPUPerPacketUs: cpu, OtherServerCorePct: noise, RSSPerViewerBytes: 100}
	}
	b := &bench{o: o, run: &report.Run{Results: []*load.Result{
		res("seatsfu", 1, 10, 5), res("raw", 1, 8, 20),
		res("seatsfu", 2, 12, -1), res("raw", 2, 6, 3),
		res("livekit", 2, 30, 1), // livekit failed in repeat 1
	}}}
	b.summarise()
	got := map[string]report.Ratio{}
	for _, r := range b.run.Ratios {
		got[r.Name] = r
	}
	raw := got["seatsfu CPU/pkt ÷ raw (per-packet sendmsg; target ≤ 1)"]
	if !reflect.DeepEqual(raw.Values, []float64{1.25, 2}) || !reflect.DeepEqual(raw.Noise, []float64{20, -1}) || raw.Viewers != 10 {
		t.Fatalf("seatsfu ÷ raw: %+v", raw)
	}
	lk := got["livekit CPU/pkt ÷ seatsfu (target ≥ 2.5)"]
	if !reflect.DeepEqual(lk.Values, []float64{2.5}) {
		t.Fatalf("livekit ÷ seatsfu: %+v", lk)
	}
	if _, ok := got["seatsfu CPU/pkt ÷ raw-batched (sendmmsg + GSO; target ≤ 1.3)"]; ok {
		t.Fatal("a ratio with no raw-batched results")
	}
}

// Without -livekit-bin the livekit target is dropped with a one-line note,
// and nothing is built.
func TestLivekitSkippedWithoutBinary(t *testing.T) {
	o, err := parseFlags("fanout", []string{"-targets", "seatsfu,livekit"})
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{o: o, run: &report.Run{}}
	if err := b.prepareLivekit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.targets, []string{"seatsfu"}) || len(b.run.Notes) != 1 || !strings.Contains(b.run.Notes[0], "-livekit-bin") || o.lkbenchBin != "" {
		t.Fatalf("targets %v, notes %q, lkbench %q", o.targets, b.run.Notes, o.lkbenchBin)
	}
}
