package sfu

import (
	"bytes"
	"net"
	"slices"
	"testing"
	"time"
)

// A writer's batch with a run of equal-sized datagrams to one viewer (the
// last shorter) goes out as one GSO entry, and the viewer still receives
// each datagram whole and in order; what cannot be merged (another
// viewer in between, a longer datagram) goes as it is.
func TestGSORunArrivesAsItsDatagrams(t *testing.T) {
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	r1, r2, out := listen(), listen(), listen()
	e, err := newEgressSocket(out, true, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	a1, a2 := r1.LocalAddr().(*net.UDPAddr), r2.LocalAddr().(*net.UDPAddr)
	b := newEgressBatch()
	var want1, want2 [][]byte
	add := func(to *net.UDPAddr, size int) {
		d := b.bufs[b.n][:size]
		for i := range d {
			d[i] = byte(b.n*7 + i)
		}
		b.one[b.n][0], b.msgs[b.n].Addr = d, to
		b.n++
		if to == a1 {
			want1 = append(want1, d)
		} else {
			want2 = append(want2, d)
		}
	}
	for range 3 {
		add(a1, 200)
	}
	add(a1, 120) // the run's shorter last
	add(a2, 200) // another viewer
	add(a1, 200)
	add(a1, 300) // longer: not of the run before it

	wire, merged := b.coalesce()
	if !merged {
		t.Fatal("nothing merged")
	}
	var spans []int
	for i := range wire {
		spans = append(spans, b.span[i])
	}
	if want := []int{4, 1, 1, 1}; !slices.Equal(spans, want) {
		t.Fatalf("runs %v, want %v", spans, want)
	}
	// The expected datagrams, copied before send empties the batch.
	want1, want2 = clone(want1), clone(want2)
	e.send(b)
	if !e.gso.Load() {
		t.Fatal("the kernel refused UDP GSO on loopback")
	}
	if got := counterValue(t, e.m.packets[egressDirect]); got != 7 {
		t.Errorf("direct packets counted %v, want 7", got)
	}
	if got := counterValue(t, e.m.batches); got != 1 {
		t.Errorf("%v sendmmsg calls, want 1", got)
	}
	for _, rc := range []struct {
		c    *net.UDPConn
		want [][]byte
	}{{r1, want1}, {r2, want2}} {
		buf := make([]byte, 2048)
		for i, w := range rc.want {
			_ = rc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := rc.c.Read(buf)
			if err != nil {
				t.Fatalf("datagram %d to %v: %v", i, rc.c.LocalAddr(), err)
			}
			if !bytes.Equal(buf[:n], w) {
				t.Fatalf("datagram %d to %v: %d bytes, want %d (first %x, want %x)", i, rc.c.LocalAddr(), n, len(w), buf[:min(n, 4)], w[:4])
			}
		}
	}
}

func clone(ds [][]byte) [][]byte {
	out := make([][]byte, len(ds))
	for i, d := range ds {
		out[i] = append([]byte(nil), d...)
	}
	return out
}
