package sfu

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestMetricsAreRegisteredWithoutRoomOrUserLabels(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := New(Config{ListenIP: "127.0.0.1", Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, _ = openTestRoom(t, s, 2, "")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "kind", "reason", "direction", "transport", "what", "limit", "path", "result", "how": // bounded label sets
				default:
					t.Errorf("%s has label %q", mf.GetName(), l.GetName())
				}
			}
			if g := m.GetGauge(); g != nil {
				got[mf.GetName()] = g.GetValue()
			} else {
				got[mf.GetName()] = m.GetCounter().GetValue()
			}
		}
	}
	for _, name := range []string{"seatsfu_rooms", "seatsfu_seats_occupied", "seatsfu_publish_rejected_total",
		"seatsfu_forwarded_packets_total", "seatsfu_forwarded_bytes_total", "seatsfu_received_packets_total",
		"seatsfu_nacks_received_total", "seatsfu_retransmitted_packets_total", "seatsfu_keyframe_requests_total",
		"seatsfu_layer_switches_total", "seatsfu_paused_slots", "seatsfu_turn_allocations_total",
		"seatsfu_shed_total", "seatsfu_egress_packets_per_second", "seatsfu_media_limit",
		"seatsfu_egress_packets_total", "seatsfu_egress_batches_total", "seatsfu_egress_messages_total", "seatsfu_egress_errors_total", "seatsfu_egress_direct_viewers", "seatsfu_egress_gso", "seatsfu_egress_control_total",
		"seatsfu_probe_bytes_total", "seatsfu_probes_total", "seatsfu_probes_cut_total"} {
		if _, ok := got[name]; !ok {
			t.Errorf("%s not registered", name)
		}
	}
	if got["seatsfu_rooms"] != 1 || got["seatsfu_seats_occupied"] != 1 {
		t.Errorf("rooms=%v seats_occupied=%v, want 1 and 1 (the owner)", got["seatsfu_rooms"], got["seatsfu_seats_occupied"])
	}
}
