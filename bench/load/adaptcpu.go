package load

import (
	"errors"
	"slices"
)

// CPUComparison is the CPU per forwarded packet of simulcast publishers
// against single-layer ones (PROTOCOL.md §9's budget: at most 1.2×),
// from runs made in the same process, alternating, so that background
// load on a shared machine falls on both alike. Each pair is a simulcast
// run and the single-layer run after it.
type CPUComparison struct {
	SimulcastUs []float64 `json:"simulcastUs"` // µs CPU per forwarded packet, per pair
	SingleUs    []float64 `json:"singleUs"`
	Ratios      []float64 `json:"ratios"` // simulcast ÷ single, per pair
	Median      float64   `json:"median"`
	Min         float64   `json:"min"`
	Max         float64   `json:"max"`
}

// CompareCPU pairs runs as they alternate (simulcast, single, simulcast,
// single…) and summarises the ratios.
func CompareCPU(runs []*AdaptResult) (CPUComparison, error) {
	var c CPUComparison
	for i := 0; i+1 < len(runs); i += 2 {
		sim, single := runs[i], runs[i+1]
		if sim.Single || !single.Single {
			return c, errors.New("load: runs to compare must alternate simulcast, single layer")
		}
		if sim.CPUPerPacketUs <= 0 || single.CPUPerPacketUs <= 0 {
			return c, errors.New("load: a run forwarded nothing: no CPU per packet")
		}
		c.SimulcastUs = append(c.SimulcastUs, sim.CPUPerPacketUs)
		c.SingleUs = append(c.SingleUs, single.CPUPerPacketUs)
		c.Ratios = append(c.Ratios, sim.CPUPerPacketUs/single.CPUPerPacketUs)
	}
	if len(c.Ratios) == 0 {
		return c, errors.New("load: no simulcast/single pair to compare")
	}
	s := slices.Clone(c.Ratios)
	slices.Sort(s)
	c.Min, c.Max = s[0], s[len(s)-1]
	if n := len(s); n%2 == 1 {
		c.Median = s[n/2]
	} else {
		c.Median = (s[n/2-1] + s[n/2]) / 2
	}
	return c, nil
}
