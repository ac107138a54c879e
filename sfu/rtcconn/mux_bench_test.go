package rtcconn

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system CPU so far (sender and reader
// alike: the benchmark's difference is the demux's).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// What the demux adds to a publisher's packet on its way to Pion's UDP
// mux: the read loop's lookup, a copy and a queue hop. BenchmarkSocketRead
// is the same traffic read straight off a socket, for the difference.
func BenchmarkPionPassThrough(b *testing.B) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	m, err := NewMux(conn, Config{PionQueue: 4096})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	benchRead(b, conn.LocalAddr(), func(buf []byte) error { _, _, err := m.PionConn().ReadFrom(buf); return err })
}

func BenchmarkSocketRead(b *testing.B) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	benchRead(b, conn.LocalAddr(), func(buf []byte) error { _, _, err := conn.ReadFromUDP(buf); return err })
}

// benchRead sends b.N RTP-sized datagrams to addr in bursts the reader
// keeps up with, and reads each with read.
func benchRead(b *testing.B, addr net.Addr, read func([]byte) error) {
	tx, err := net.DialUDP("udp4", nil, addr.(*net.UDPAddr))
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Close()
	pkt := make([]byte, 1200)
	pkt[0], pkt[1] = 0x80, 96 // RTP
	buf := make([]byte, 1500)
	const burst = 64
	cpu0 := cpuTime()
	b.ResetTimer()
	defer func() { b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op") }()
	for i := 0; i < b.N; i += burst {
		n := min(burst, b.N-i)
		for range n {
			if _, err := tx.Write(pkt); err != nil {
				b.Fatal(err)
			}
		}
		for range n {
			if err := read(buf); err != nil {
				b.Fatal(err)
			}
		}
	}
}
