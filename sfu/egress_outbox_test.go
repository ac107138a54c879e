package sfu

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// outboxPair is an egress socket and a viewer's socket on loopback.
func outboxPair(t *testing.T, wait time.Duration) (*egressSocket, *net.UDPConn) {
	t.Helper()
	lo := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	node, err := net.ListenUDP("udp", lo)
	if err != nil {
		t.Fatal(err)
	}
	viewer, err := net.ListenUDP("udp", lo)
	if err != nil {
		t.Fatal(err)
	}
	sock, err := newEgressSocket(node, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	sock.out.wait = wait
	t.Cleanup(func() {
		sock.closeOutbox()
		_ = node.Close()
		_ = viewer.Close()
	})
	return sock, viewer
}

// receive reads n datagrams, failing after two seconds.
func receive(t *testing.T, c *net.UDPConn, n int) [][]byte {
	t.Helper()
	var got [][]byte
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	for len(got) < n {
		k, err := c.Read(buf)
		if err != nil {
			t.Fatalf("got %d of %d datagrams: %v", len(got), n, err)
		}
		got = append(got, bytes.Clone(buf[:k]))
	}
	return got
}

func addrOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// A posted datagram leaves with the next batch of media, after it, and is
// counted as control, not as a packet.
func TestOutboxRidesWithTheNextBatch(t *testing.T) {
	sock, viewer := outboxPair(t, time.Hour) // no timer: only a batch can send it
	if !sock.out.Post([]byte("stun answer"), addrOf(viewer)) {
		t.Fatal("Post refused with room")
	}
	b := newEgressBatch()
	b.one[0][0] = b.bufs[0][:copy(b.bufs[0][:], "media")]
	b.msgs[0].Addr = viewer.LocalAddr()
	b.n = 1
	sock.send(b)
	got := receive(t, viewer, 2)
	if string(got[0]) != "media" || string(got[1]) != "stun answer" {
		t.Fatalf("datagrams %q, want media then the answer", got)
	}
	if p, c := testutil.ToFloat64(sock.m.packets[egressDirect]), testutil.ToFloat64(sock.m.control[controlBatched]); p != 1 || c != 1 {
		t.Fatalf("counted %v packets and %v batched control datagrams, want 1 and 1", p, c)
	}
	if sock.out.queued.Load() != 0 || b.n != 0 || b.control != 0 {
		t.Fatalf("left behind: %d queued, batch n=%d control=%d", sock.out.queued.Load(), b.n, b.control)
	}
}

// With no batch coming, the outbox's timer sends what waits.
func TestOutboxTimerSendsWhenNoBatchComes(t *testing.T) {
	sock, viewer := outboxPair(t, time.Millisecond)
	for _, s := range []string{"one", "two"} {
		if !sock.out.Post([]byte(s), addrOf(viewer)) {
			t.Fatal("Post refused with room")
		}
	}
	got := receive(t, viewer, 2)
	if string(got[0]) != "one" || string(got[1]) != "two" {
		t.Fatalf("datagrams %q, want one, two in order", got)
	}
	deadline := time.Now().Add(2 * time.Second)
	for testutil.ToFloat64(sock.m.control[controlTimer]) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("timer-sent control datagrams %v, want 2", testutil.ToFloat64(sock.m.control[controlTimer]))
		}
		time.Sleep(time.Millisecond)
	}
	if p := testutil.ToFloat64(sock.m.packets[egressDirect]); p != 0 {
		t.Fatalf("control datagrams counted as %v packets", p)
	}
}

// The outbox never drops: full, too large or closed, Post says no and the
// sender sends itself.
func TestOutboxRefusesWhatItCannotHold(t *testing.T) {
	sock, viewer := outboxPair(t, time.Hour)
	to := addrOf(viewer)
	if sock.out.Post(make([]byte, maxControl+1), to) {
		t.Fatal("took a datagram larger than maxControl")
	}
	for i := range outboxSize {
		if !sock.out.Post([]byte{byte(i)}, to) {
			t.Fatalf("refused datagram %d of %d", i+1, outboxSize)
		}
	}
	if sock.out.Post([]byte("one more"), to) {
		t.Fatal("took a datagram past outboxSize")
	}
	// A batch has room for all of them; they leave in order.
	sock.send(newEgressBatch())
	for i, d := range receive(t, viewer, outboxSize) {
		if len(d) != 1 || d[0] != byte(i) {
			t.Fatalf("datagram %d is %v", i, d)
		}
	}
	sock.closeOutbox()
	if sock.out.Post([]byte("late"), to) {
		t.Fatal("took a datagram after close")
	}
	if c := testutil.ToFloat64(sock.m.control[controlDirect]); c != 3 {
		t.Fatalf("refusals counted %v, want 3", c)
	}
}
