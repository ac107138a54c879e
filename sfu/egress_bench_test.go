package sfu

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/pion/rtp"
	"golang.org/x/sys/unix"

	"github.com/seatsfu/seatsfu/seat"
)

// BenchmarkEgress is the per-packet cost of sending one forwarded packet
// to a viewer on a real loopback connection, by path, the paths
// alternating in one run:
//
//   - pion: Pion's TrackLocalWriter (SRTP session, mux, ICE conn, UDP mux,
//     one sendto);
//   - direct: the direct path as a pool writer uses it — the writer's turn
//     on the viewer (begin/end), SRTP into the writer's batch, one sendmmsg
//     per 32 datagrams, which all go to this one viewer in equal sizes:
//     UDP GSO's best case (egress_gso.go);
//   - direct-nogso: the same without GSO, the case of a batch spread over
//     many viewers;
//   - direct-unbatched: the direct path outside a writer's turn, one
//     sendmmsg per datagram (what batching adds).
//
// The client's decryption shares the machine, so besides ns/op (wall
// clock) each reports cpu-ns/pkt: the CPU time, user and system, of the
// benchmark's own OS thread, where every layer of both paths runs
// synchronously — the sender's cost alone. Compare paths within a run.
func BenchmarkEgress(b *testing.B) {
	s := newTestSFU(b)
	r, _ := openTestRoom(b, s, 2, seat.ModeFree)
	tv := startViewer(b, r, clientAPI(b), "viewer", 1, false)
	defer func() { _ = tv.pc.Close() }()
	eventually(b, 10*time.Second, "the viewer on the direct path", func() bool { return gaugeValue(b, s.egress.m.direct) == 1 })
	var v *viewer
	r.mu.Lock()
	for x := range r.viewers {
		v = x
	}
	r.mu.Unlock()
	var sl *slot
	for _, x := range v.slots {
		if x.kind == videoIdx {
			sl = x
		}
	}
	bt := sl.track.bound.Load()
	ew := bt.w.(*egressWriter)
	payload := make([]byte, 1000)
	hdr := rtp.Header{Version: 2, PayloadType: bt.pt, SSRC: uint32(bt.ssrc), Timestamp: 1}
	batch := newEgressBatch()
	paths := []struct {
		name  string
		write func()
	}{
		{"pion", func() { _, _ = ew.pion.WriteRTP(&hdr, payload) }},
		{"direct", func() {
			v.eg.begin(batch)
			_, _ = ew.WriteRTP(&hdr, payload)
			v.eg.end()
		}},
		{"direct-nogso", func() {
			v.eg.begin(batch)
			_, _ = ew.WriteRTP(&hdr, payload)
			v.eg.end()
		}},
		{"direct-unbatched", func() { _, _ = ew.WriteRTP(&hdr, payload) }},
	}
	for round := range 3 {
		for _, p := range paths {
			b.Run(fmt.Sprintf("path=%s/round=%d", p.name, round), func(b *testing.B) {
				s.egress.gso.Store(p.name != "direct-nogso")
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				calls := counterValue(b, s.egress.m.batches)
				cpu0 := threadCPU(b)
				for range b.N {
					hdr.SequenceNumber++
					p.write()
				}
				s.egress.send(batch)
				b.ReportMetric(float64((threadCPU(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/pkt")
				b.ReportMetric((counterValue(b, s.egress.m.batches)-calls)/float64(b.N), "sendmmsg/pkt")
			})
		}
	}
}

// threadCPU is the calling OS thread's CPU time so far, user and system.
func threadCPU(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
