package sfu

import (
	"runtime"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/rtp"

	"github.com/seatsfu/seatsfu/media"
)

// Which NACK generator the publish connections run (engine.go keeps Pion's)
// is decided by these numbers: per-packet cost on the up-track's read path
// and memory per up-track, for Pion's generator interceptor and for
// media.LossDetector. Both see the same stream with every 20th packet lost.
//
//	go test -run '^$' -bench 'UpstreamLoss' -benchmem ./sfu/

type lossyStream struct {
	seq  uint16
	pkt  rtp.Packet
	buf  []byte
	skip int
}

func (s *lossyStream) next() []byte {
	s.seq++
	if s.skip++; s.skip == 20 {
		s.skip = 0
		s.seq++ // lost
	}
	s.pkt.SequenceNumber = s.seq
	n, _ := s.pkt.MarshalTo(s.buf)
	return s.buf[:n]
}

func newLossyStream() *lossyStream {
	return &lossyStream{pkt: rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SSRC: 1}, Payload: make([]byte, 1000)}, buf: make([]byte, 1500)}
}

func BenchmarkUpstreamLossPion(b *testing.B) {
	f, err := nack.NewGeneratorInterceptor()
	if err != nil {
		b.Fatal(err)
	}
	i, err := f.NewInterceptor("")
	if err != nil {
		b.Fatal(err)
	}
	defer i.Close()
	s := newLossyStream()
	var cur []byte
	r := i.BindRemoteStream(&interceptor.StreamInfo{SSRC: 1, RTCPFeedback: []interceptor.RTCPFeedback{{Type: "nack"}}},
		interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
			return copy(b, cur), a, nil
		}))
	buf := make([]byte, 1500)
	b.ReportAllocs()
	for b.Loop() {
		cur = s.next()
		if _, _, err := r.Read(buf, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(perStream(b, func() any {
		fi, _ := f.NewInterceptor("")
		fi.BindRemoteStream(&interceptor.StreamInfo{SSRC: 1, RTCPFeedback: []interceptor.RTCPFeedback{{Type: "nack"}}}, nil)
		return fi
	})), "B/stream")
}

func BenchmarkUpstreamLossDetector(b *testing.B) {
	d := media.NewLossDetector(media.LossConfig{})
	s := newLossyStream()
	var h rtp.Header
	missing := make([]uint16, 0, 512)
	now := time.Unix(0, 0)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		pkt := s.next()
		if _, err := h.Unmarshal(pkt); err != nil { // the reader parses each packet once anyway
			b.Fatal(err)
		}
		now = now.Add(2500 * time.Microsecond) // 400 packets/s
		d.Push(h.SequenceNumber, now)
		if n++; n%40 == 0 { // the 100 ms NACK tick
			missing = d.Missing(now, missing[:0])
		}
	}
	b.ReportMetric(float64(perStream(b, func() any { return media.NewLossDetector(media.LossConfig{}) })), "B/stream")
}

// perStream is the heap one more stream costs, averaged over 1000.
func perStream(b *testing.B, make1 func() any) uint64 {
	b.Helper()
	keep := make([]any, 1000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range keep {
		keep[i] = make1()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	return (after.HeapAlloc - before.HeapAlloc) / uint64(len(keep))
}
