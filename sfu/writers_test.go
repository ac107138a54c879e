package sfu

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// blockingWriter blocks every write until released, as a TCP write does
// while a slow viewer's socket buffer is full.
type blockingWriter struct {
	*countingWriter
	release chan struct{}
	once    sync.Once
}

func (w *blockingWriter) unblock() { w.once.Do(func() { close(w.release) }) }

func (w *blockingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	<-w.release
	return w.countingWriter.WriteRTP(h, payload)
}

// One viewer on Pion's path whose writes block must not stall the viewers
// the pool serves, even with a single pool writer: Pion-path viewers are
// served on a goroutine of their own while they have work (writers.go).
func TestABlockedPionViewerDoesNotStallThePool(t *testing.T) {
	const packets, queue = 40, 64
	f := newFanout(t, 2, 2, queue, 0) // no pool of the harness's: this test's below
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sock, err := newEgressSocket(conn, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	pool := newWriterPool(1, sock)
	slow, fast := f.viewers[0], f.viewers[1]
	blocked := &blockingWriter{countingWriter: f.writers[0], release: make(chan struct{})}
	defer func() {
		blocked.unblock() // a failing test must not leave a writer blocked for good
		f.stop()
		pool.close()
	}()
	slow.slots[0].track.bound.Store(&boundTrack{w: blocked, ssrc: 1000, pt: 96})
	slow.pool, fast.pool = pool, pool
	fast.eg = sock.newViewer() // on the direct path, as far as dispatch goes
	fast.eg.direct.Store(true)

	for seq := uint16(1); seq <= packets; seq++ {
		pk := getPacket()
		pk.hdr.Version, pk.hdr.SSRC, pk.hdr.PayloadType = 2, 42, 96
		pk.hdr.SequenceNumber, pk.hdr.Timestamp = seq, uint32(seq)*3000
		pk.payload = pk.buf[:100]
		pk.payload[0], pk.payload[1] = 0x10, 0x01
		if seq == 1 {
			pk.payload[1] = 0x00
		}
		pk.keyframe = seq == 1
		for _, v := range f.viewers {
			v.slots[0].offer(f.src, pk, true)
		}
		pk.release()
	}
	eventually(t, 5*time.Second, "the pool's viewer to get every packet while the other is blocked",
		func() bool { return f.writers[1].own.Load() == packets })
	if got := f.writers[0].own.Load(); got != 0 {
		t.Fatalf("the blocked viewer wrote %d packets", got)
	}
	blocked.unblock()
	eventually(t, 5*time.Second, "the blocked viewer to catch up once released",
		func() bool { return f.writers[0].own.Load() == packets })
}
