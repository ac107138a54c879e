package main

import (
	"reflect"
	"testing"
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
		{"fanout", "seatsfu", 10}, {"fanout", "raw", 10}, {"fanout", "naive", 10},
		{"fanout", "seatsfu", 20}, {"fanout", "raw", 20}, {"fanout", "naive", 20},
		{"join", "seatsfu", 7}, {"join", "raw", 7}, {"join", "naive", 7},
		{"handover", "seatsfu", 5}, {"churn", "seatsfu", 5},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("plan\n got %v\nwant %v", got, want)
	}
	if got := (&bench{o: o}).plan("handover"); !reflect.DeepEqual(got, []job{{"handover", "seatsfu", 5}}) {
		t.Fatalf("handover plan %v", got)
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
