package main

import (
	"encoding/json"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestSampleConfigIsDefaults keeps configs/seatsfu.yaml honest: it parses
// with the server's own loader, it equals Defaults, and it documents every
// key.
func TestSampleConfigIsDefaults(t *testing.T) {
	const path = "../../configs/seatsfu.yaml"
	c, err := Load([]string{"--config", path}, nil, os.ReadFile, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Defaults()) {
		t.Fatalf("sample config %+v differs from Defaults() %+v", c, Defaults())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]any
	if err := yaml.Unmarshal(raw, &keys); err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		if _, ok := keys[s.name]; !ok {
			t.Errorf("configs/seatsfu.yaml does not set %q", s.name)
		}
	}
	if len(keys) != len(settings) {
		t.Errorf("sample has %d keys, the server %d", len(keys), len(settings))
	}
}

// TestGrafanaDashboard checks the dashboard is valid JSON with panels, and
// that every seatsfu_ metric it queries is one PROTOCOL.md §7 or §9 names.
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile("../../configs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("dashboard is not valid JSON: %v", err)
	}
	if d.Title == "" || len(d.Panels) < 5 {
		t.Fatalf("dashboard %q has %d panels, want ≥ 5", d.Title, len(d.Panels))
	}
	known := []string{"seatsfu_rooms", "seatsfu_participants", "seatsfu_seats_occupied",
		"seatsfu_seat_requests_total", "seatsfu_forwarded_packets_total", "seatsfu_join_duration_seconds_bucket",
		"seatsfu_forwarded_bytes_total", "seatsfu_publish_rejected_total", "seatsfu_signal_requests_total",
		// the limits' own (PROTOCOL.md §3.4)
		"seatsfu_limit_refusals_total", "seatsfu_limit", "seatsfu_http_connections", "seatsfu_subscribers",
		// real networks (PROTOCOL.md §9)
		"seatsfu_layer_switches_total", "seatsfu_paused_slots", "seatsfu_subscriber_bandwidth_bits_bucket", "seatsfu_turn_allocations_total",
		"seatsfu_probes_total", "seatsfu_probes_cut_total", "seatsfu_probe_bytes_total"}
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, f := range strings.FieldsFunc(tg.Expr, func(r rune) bool {
				return !(r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
			}) {
				if strings.HasPrefix(f, "seatsfu_") && !contains(known, f) {
					t.Errorf("panel %q queries unknown metric %s", p.Title, f)
				}
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
