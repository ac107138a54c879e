// Package metrictest reads one series of a Prometheus registry in tests:
// the value of a gauge or counter picked by name and some of its labels.
package metrictest

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Value is the value of the first series of name whose labels include
// every pair of labels (name, value, name, value…), gauge or counter; 0
// when none matches, as a labelled counter has no series before its first
// increment.
func Value(t testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	v, _ := find(t, g, name, labels)
	return v
}

// Must is Value that fails the test when no series matches.
func Must(t testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	v, ok := find(t, g, name, labels)
	if !ok {
		t.Fatalf("no metric %s%v", name, labels)
	}
	return v
}

func find(t testing.TB, g prometheus.Gatherer, name string, labels []string) (float64, bool) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue series
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue(), true
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}
