package load

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/signal/signaltest"
)

// BenchmarkSeatsfuFanoutInProcess runs seatsfu and the generator in one
// process so `go test -cpuprofile` can see inside the SFU (seatsfu has no
// pprof endpoint); filter the profile with -focus 'seatsfu/(sfu|media)'.
// b.N is the measuring window in milliseconds (-benchtime 5000x = 5 s).
// CPU figures cover generator and server together: use seatbench for the
// per-process split.
func BenchmarkSeatsfuFanoutInProcess(b *testing.B) {
	for _, viewers := range []int{30, 100} {
		b.Run(fmt.Sprintf("viewers=%d", viewers), func(b *testing.B) {
			benchSeatsfu(b, viewers)
		})
	}
}

func benchSeatsfu(b *testing.B, viewers int) {
	env := signaltest.Start(b)
	ctx := context.Background()
	tgt, err := NewSeatsfuTarget(ctx, Server{Name: "seatsfu", PID: os.Getpid(), BaseURL: env.URL, InProcess: true}, env.WSURL, env.Secret, "bench", 4)
	if err != nil {
		b.Fatal(err)
	}
	defer tgt.Close()
	window := max(time.Duration(b.N)*time.Millisecond, time.Second)
	r, err := Fanout(ctx, tgt, Config{Viewers: viewers, Guests: 2, Warmup: 2 * time.Second, Duration: window})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(r.ForwardedPPS, "fwd-pkt/s")
	b.ReportMetric(r.CPUPerPacketUs, "µs-cpu/pkt(all)")
	b.ReportMetric(r.LatencyP95Ms, "p95-ms")
	b.ReportMetric(r.LossPct, "loss-%")
	b.ReportMetric(r.ServerDrops, "sfu-queue-drops")
}
