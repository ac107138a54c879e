package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/seatsfu/seatsfu/bench/load"
)

// `seatbench all` runs adapt with all's output, binary and pinning, and
// at least three CPU comparison pairs.
func TestAllAdaptArgs(t *testing.T) {
	got := allAdaptArgs([]string{"-out", "x", "-seatsfu", "/bin/s", "-pin=false", "-steps", "10"})
	want := []string{"-out", "x", "-pin=false", "-repeat", "3", "-seatsfu", "/bin/s"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := allAdaptArgs([]string{"-repeat", "5"}); got[len(got)-1] != "5" {
		t.Fatalf("-repeat 5 gave %v", got)
	}
}

func TestCPUMarkdown(t *testing.T) {
	md := cpuMarkdown(load.CPUComparison{SimulcastUs: []float64{13}, SingleUs: []float64{10}, Ratios: []float64{1.3}, Median: 1.3, Min: 1.3, Max: 1.3})
	if !strings.Contains(md, "median 1.30×") || !strings.Contains(md, "over the 1.2× budget") {
		t.Fatalf("markdown:\n%s", md)
	}
}
