package rtcconn

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/seatsfu/seatsfu/internal/impair"
)

// A viewer whose TCP window stays shut makes writes time out, some of them
// part-way through a frame. When it reads again, every frame it gets must
// be one that was written, whole: a frame cut in two and not finished
// would turn the rest of the connection into garbage (RFC 4571 has no
// framing but the length prefixes).
func TestATimedOutTCPWriteKeepsTheFraming(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// Small buffers on both sides, so the window shuts after a few frames.
	viewer, err := (&net.Dialer{Control: impair.SmallBuffers}).Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.Close()
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sc.(*net.TCPConn).SetWriteBuffer(4096); err != nil {
		t.Fatal(err)
	}
	dropped := prometheus.NewCounter(prometheus.CounterOpts{Name: "dropped"})
	c := &tcpConn{c: sc, timeout: DefaultTCPWriteTimeout, dropped: dropped}

	// Each frame is its index, repeated: a frame read whole says which it
	// was and that nothing of another is inside it. Frames larger than the
	// buffers make a deadline fall inside one at once; with small ones, the
	// kernel mostly takes a frame whole or not at all, and a cut frame is
	// rare, not impossible.
	frame := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 20000+i%7) }
	const maxTimeouts = 20
	written, timeouts := 0, 0
	for len(c.tail) == 0 {
		start := time.Now()
		c.write(frame(written))
		written++
		if time.Since(start) >= DefaultTCPWriteTimeout {
			if timeouts++; timeouts == maxTimeouts {
				t.Fatalf("%d writes timed out and none part-way through a frame", timeouts)
			}
		}
	}
	cut := written - 1 // the frame whose end waits in the tail

	// The viewer reads again; a few more frames follow the cut one.
	got := make(chan []int, 1)
	go func() {
		var seen []int
		hdr := make([]byte, 2)
		for {
			_ = viewer.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := io.ReadFull(viewer, hdr); err != nil {
				got <- seen
				return
			}
			b := make([]byte, binary.BigEndian.Uint16(hdr))
			if _, err := io.ReadFull(viewer, b); err != nil {
				got <- append(seen, -1)
				return
			}
			i := int(b[0])
			if !bytes.Equal(b, frame(i)) {
				got <- append(seen, -1)
				return
			}
			seen = append(seen, i)
		}
	}()
	for range 3 {
		c.write(frame(written))
		written++
	}
	_ = sc.Close()
	seen := <-got
	if len(seen) == 0 || seen[len(seen)-1] != written-1 {
		t.Fatalf("the viewer read frames %v, want them whole and ending with the last written, %d", seen, written-1)
	}
	found := false
	for i, f := range seen {
		if f < 0 {
			t.Fatalf("frame %d of %v is not a frame that was written", i, seen)
		}
		found = found || f == cut
	}
	if !found {
		t.Fatalf("the frame cut by the deadline, %d, never arrived whole: %v", cut, seen)
	}
	// Every frame arrived whole or was counted as dropped.
	if d := int(testutil.ToFloat64(dropped)); d+len(seen) != written {
		t.Fatalf("%d frames written, %d arrived and %d counted dropped", written, len(seen), d)
	}
}
