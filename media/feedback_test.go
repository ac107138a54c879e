package media

import (
	"testing"

	"github.com/pion/rtcp"
)

func mustMarshal(t testing.TB, pkts ...rtcp.Packet) []byte {
	t.Helper()
	b, err := rtcp.Marshal(pkts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFeedbackParse(t *testing.T) {
	buf := mustMarshal(t,
		&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: 10, FractionLost: 5}}},
		&rtcp.PictureLossIndication{SenderSSRC: 1, MediaSSRC: 10},
		&rtcp.FullIntraRequest{SenderSSRC: 1, MediaSSRC: 10, FIR: []rtcp.FIREntry{{SSRC: 10}, {SSRC: 20}}},
		&rtcp.TransportLayerNack{SenderSSRC: 1, MediaSSRC: 20, Nacks: []rtcp.NackPair{{PacketID: 100, LostPackets: 0b101}}},
		&rtcp.ReceiverEstimatedMaximumBitrate{SenderSSRC: 1, Bitrate: 1e6, SSRCs: []uint32{10}},
	)
	var f Feedback
	if err := f.Parse(buf); err != nil {
		t.Fatal(err)
	}
	if len(f.Reports) != 1 || f.Reports[0].SSRC != 10 || f.Reports[0].FractionLost != 5 {
		t.Fatalf("reports %+v", f.Reports)
	}
	if len(f.Keyframes) != 2 || f.Keyframes[0] != 10 || f.Keyframes[1] != 20 {
		t.Fatalf("keyframes %v (PLI and FIR for 10 must coalesce)", f.Keyframes)
	}
	want := []Nack{{20, 100}, {20, 101}, {20, 103}}
	if len(f.Nacks) != len(want) {
		t.Fatalf("nacks %v", f.Nacks)
	}
	for i := range want {
		if f.Nacks[i] != want[i] {
			t.Fatalf("nacks %v", f.Nacks)
		}
	}
	if len(f.Estimates) != 1 || f.Estimates[0] != 1e6 {
		t.Fatalf("estimates %v", f.Estimates)
	}
	// Reuse: a bad buffer leaves nothing behind.
	if err := f.Parse([]byte{1, 2, 3}); err == nil {
		t.Fatal("garbage parsed")
	}
	if len(f.Nacks)+len(f.Reports)+len(f.Keyframes) != 0 {
		t.Fatal("stale feedback after a parse error")
	}
}

func TestFeedbackBounds(t *testing.T) {
	// NACKs of 1000 full pairs name 17000 packets: bounded to MaxFeedbackNacks.
	pairs := make([]rtcp.NackPair, 200)
	for i := range pairs {
		pairs[i] = rtcp.NackPair{PacketID: uint16(i * 17), LostPackets: 0xffff}
	}
	srs := make([]rtcp.ReceptionReport, 31)
	buf := mustMarshal(t,
		&rtcp.TransportLayerNack{MediaSSRC: 5, Nacks: pairs}, &rtcp.TransportLayerNack{MediaSSRC: 5, Nacks: pairs},
		&rtcp.TransportLayerNack{MediaSSRC: 5, Nacks: pairs}, &rtcp.TransportLayerNack{MediaSSRC: 5, Nacks: pairs},
		&rtcp.TransportLayerNack{MediaSSRC: 5, Nacks: pairs},
		&rtcp.ReceiverReport{Reports: srs}, &rtcp.ReceiverReport{Reports: srs}, &rtcp.ReceiverReport{Reports: srs},
	)
	var f Feedback
	if err := f.Parse(buf); err != nil {
		t.Fatal(err)
	}
	if len(f.Nacks) != MaxFeedbackNacks || len(f.Reports) != MaxFeedbackReports || f.Truncated != 6 { // once per NACK packet, once for the RR over the bound
		t.Fatalf("nacks %d reports %d truncated %d", len(f.Nacks), len(f.Reports), f.Truncated)
	}
}

// FuzzRTCP feeds arbitrary bytes through rtcp.Unmarshal into every RTCP
// handler of the package: no panic, and output within the bounds.
func FuzzRTCP(f *testing.F) {
	f.Add(mustMarshal(f,
		&rtcp.SenderReport{SSRC: 1, NTPTime: 1 << 40, Reports: []rtcp.ReceptionReport{{SSRC: 2, LastSenderReport: 5, Delay: 9}}},
		&rtcp.TransportLayerNack{MediaSSRC: 20, Nacks: []rtcp.NackPair{{PacketID: 1, LostPackets: 0xffff}}},
		&rtcp.PictureLossIndication{MediaSSRC: 3},
	))
	f.Add(mustMarshal(f, &rtcp.TransportLayerCC{MediaSSRC: 1, PacketStatusCount: 3, PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: 1, RunLength: 3}}, RecvDeltas: []*rtcp.RecvDelta{{Type: 1, Delta: 250}, {Type: 1, Delta: 250}, {Type: 1, Delta: 250}}}))
	f.Fuzz(func(t *testing.T, buf []byte) {
		var fb Feedback
		if err := fb.Parse(buf); err != nil {
			return
		}
		if len(fb.Nacks) > MaxFeedbackNacks || len(fb.Reports) > MaxFeedbackReports ||
			len(fb.Keyframes) > MaxFeedbackKeyframes || len(fb.SenderReports) > MaxFeedbackReports {
			t.Fatal("bound exceeded")
		}
		for _, r := range fb.Reports {
			RTT(r, t0)
		}
	})
}

func BenchmarkFeedbackParse(b *testing.B) {
	buf := mustMarshal(b,
		&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: 10}}},
		&rtcp.TransportLayerNack{MediaSSRC: 20, Nacks: []rtcp.NackPair{{PacketID: 100, LostPackets: 0b101}}},
	)
	var f Feedback
	b.ReportAllocs()
	for b.Loop() {
		if err := f.Parse(buf); err != nil {
			b.Fatal(err)
		}
	}
}
