package load

import (
	"math"
	"testing"
)

func TestCompareCPU(t *testing.T) {
	runs := []*AdaptResult{
		{CPUPerPacketUs: 12}, {Single: true, CPUPerPacketUs: 10},
		{CPUPerPacketUs: 11}, {Single: true, CPUPerPacketUs: 10},
		{CPUPerPacketUs: 15}, {Single: true, CPUPerPacketUs: 10},
	}
	c, err := CompareCPU(runs)
	if err != nil {
		t.Fatal(err)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if len(c.Ratios) != 3 || !near(c.Median, 1.2) || !near(c.Min, 1.1) || !near(c.Max, 1.5) {
		t.Fatalf("got %+v", c)
	}
	for _, bad := range [][]*AdaptResult{
		nil,
		{{Single: true, CPUPerPacketUs: 1}, {CPUPerPacketUs: 1}}, // out of order
		{{CPUPerPacketUs: 1}, {Single: true}},                    // nothing forwarded
	} {
		if _, err := CompareCPU(bad); err == nil {
			t.Errorf("CompareCPU(%v) accepted", bad)
		}
	}
}
