package impair

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// echoServer answers every datagram with the same bytes, until the test ends.
func echoServer(t *testing.T) *net.UDPAddr {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			c.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	t.Cleanup(func() { c.Close(); wg.Wait() })
	return c.LocalAddr().(*net.UDPAddr)
}

func newRelay(t *testing.T, target *net.UDPAddr, up, down Config) *Relay {
	t.Helper()
	r, err := New(target, up, down)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func dialRelay(t *testing.T, r *Relay) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp4", nil, r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// arrival is one echoed packet: its number and when it came back.
type arrival struct {
	seq  uint32
	sent time.Time
	at   time.Time
}

// roundTrip sends n numbered packets, pacing them by gap, and collects the
// echoes until none arrive for quiet.
func roundTrip(t *testing.T, c *net.UDPConn, n int, size int, gap, quiet time.Duration) []arrival {
	t.Helper()
	if size < 12 {
		size = 12
	}
	var got []arrival
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			c.SetReadDeadline(time.Now().Add(quiet))
			k, err := c.Read(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					return
				}
				continue
			}
			if k < 12 {
				continue
			}
			got = append(got, arrival{
				seq:  binary.BigEndian.Uint32(buf),
				sent: time.Unix(0, int64(binary.BigEndian.Uint64(buf[4:]))),
				at:   time.Now(),
			})
		}
	}()
	p := make([]byte, size)
	for i := 0; i < n; i++ {
		binary.BigEndian.PutUint32(p, uint32(i))
		binary.BigEndian.PutUint64(p[4:], uint64(time.Now().UnixNano()))
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
		if gap > 0 {
			time.Sleep(gap) // pacing the sender, not waiting for a result
		}
	}
	<-done
	return got
}

func TestRelayPassThrough(t *testing.T) {
	r := newRelay(t, echoServer(t), Config{}, Config{})
	got := roundTrip(t, dialRelay(t, r), 200, 100, 100*time.Microsecond, 300*time.Millisecond)
	if len(got) != 200 {
		t.Fatalf("%d of 200 echoed", len(got))
	}
	for _, d := range []Direction{ClientToTarget, TargetToClient} {
		if c := r.Counters(d); c.In != 200 || c.Out != 200 || c.Dropped != 0 {
			t.Fatalf("%v counters %+v", d, c)
		}
	}
}

func TestRelayTwoClientsKeepTheirReplies(t *testing.T) {
	r := newRelay(t, echoServer(t), Config{}, Config{})
	a, b := dialRelay(t, r), dialRelay(t, r)
	for _, c := range []*net.UDPConn{a, b} {
		if _, err := c.Write([]byte(c.LocalAddr().String())); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []*net.UDPConn{a, b} {
		buf := make([]byte, 100)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Read(buf)
		if err != nil || string(buf[:n]) != c.LocalAddr().String() {
			t.Fatalf("client %v got %q, %v", c.LocalAddr(), buf[:n], err)
		}
	}
}

func TestRelayLossIsSeededAndCounted(t *testing.T) {
	run := func() []uint32 {
		r := newRelay(t, echoServer(t), Config{Seed: 5, Loss: 0.2}, Config{})
		got := roundTrip(t, dialRelay(t, r), 500, 50, 50*time.Microsecond, 300*time.Millisecond)
		c := r.Counters(ClientToTarget)
		if c.In != 500 || c.Dropped+c.Out != 500 || int(c.Out) != len(got) {
			t.Fatalf("counters %+v for %d echoes", c, len(got))
		}
		seqs := make([]uint32, len(got))
		for i, a := range got {
			seqs[i] = a.seq
		}
		return seqs
	}
	first, second := run(), run()
	if len(first) < 350 || len(first) > 450 {
		t.Fatalf("%d of 500 passed a 20%% loss", len(first))
	}
	if len(first) != len(second) {
		t.Fatalf("same seed, %d then %d packets", len(first), len(second))
	}
	for i := range first {
		if first[i] != second[i] {
			t.Fatalf("same seed, different packet lost at %d", i)
		}
	}
}

func TestRelayDelay(t *testing.T) {
	const delay = 30 * time.Millisecond
	r := newRelay(t, echoServer(t), Config{Delay: delay}, Config{Delay: delay, Jitter: 5 * time.Millisecond})
	got := roundTrip(t, dialRelay(t, r), 20, 50, time.Millisecond, 300*time.Millisecond)
	if len(got) != 20 {
		t.Fatalf("%d of 20", len(got))
	}
	for _, a := range got {
		if rtt := a.at.Sub(a.sent); rtt < 2*delay {
			t.Fatalf("packet %d back after %v, less than the configured %v", a.seq, rtt, 2*delay)
		}
	}
}

func TestRelayReorders(t *testing.T) {
	r := newRelay(t, echoServer(t), Config{Seed: 9, Reorder: 0.3, ReorderBy: 20 * time.Millisecond}, Config{})
	got := roundTrip(t, dialRelay(t, r), 100, 50, 0, 300*time.Millisecond)
	if len(got) != 100 {
		t.Fatalf("%d of 100", len(got))
	}
	inversions := 0
	for i := 1; i < len(got); i++ {
		if got[i].seq < got[i-1].seq {
			inversions++
		}
	}
	if inversions == 0 {
		t.Fatal("no packet was reordered")
	}
}

func TestRelayDuplicates(t *testing.T) {
	r := newRelay(t, echoServer(t), Config{Seed: 2, Duplicate: 0.5}, Config{})
	got := roundTrip(t, dialRelay(t, r), 100, 50, 100*time.Microsecond, 300*time.Millisecond)
	c := r.Counters(ClientToTarget)
	if c.Duplicated < 30 || len(got) != 100+int(c.Duplicated) {
		t.Fatalf("%d echoes, counters %+v", len(got), c)
	}
}

func TestRelayBlackhole(t *testing.T) {
	r := newRelay(t, echoServer(t), Config{}, Config{})
	c := dialRelay(t, r)
	r.SetBlackhole(TargetToClient, true)
	if got := roundTrip(t, c, 50, 20, 0, 200*time.Millisecond); len(got) != 0 {
		t.Fatalf("%d packets through a black hole", len(got))
	}
	if k := r.Counters(TargetToClient); k.Dropped != 50 || k.Out != 0 {
		t.Fatalf("counters %+v", k)
	}
	r.SetBlackhole(TargetToClient, false)
	if got := roundTrip(t, c, 50, 20, 0, 200*time.Millisecond); len(got) != 50 {
		t.Fatalf("%d of 50 after the black hole lifted", len(got))
	}
}

func TestRelayRateCap(t *testing.T) {
	// 800 kbit/s is 100 bytes per ms: 1000-byte packets leave ≥ 10 ms apart,
	// and a burst of 100 overflows the 10 kB queue.
	const rate, size = 800_000, 1000
	r := newRelay(t, echoServer(t), Config{RateBps: rate, QueueBytes: 10_000}, Config{})
	got := roundTrip(t, dialRelay(t, r), 100, size, 0, 300*time.Millisecond)
	c := r.Counters(ClientToTarget)
	if c.Dropped == 0 || len(got) == 0 || len(got) > 20 {
		t.Fatalf("%d echoed, counters %+v", len(got), c)
	}
	// The i-th packet through cannot be back before the link needed
	// (i+1) × 10 ms to serialise it and those ahead of it.
	for i, a := range got {
		if took, min := a.at.Sub(got[0].sent), time.Duration(i+1)*10*time.Millisecond; took < min {
			t.Fatalf("packet #%d of %d B back after %v (< %v): faster than %d bit/s", i, size, took, min, rate)
		}
	}
}

func TestRelayCloseStopsEverything(t *testing.T) {
	r, err := New(echoServer(t), Config{Delay: time.Hour}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := dialRelay(t, r)
	c.Write([]byte("held for an hour"))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	// goleak in TestMain proves the goroutines are gone.
}

// DTLS records pass unimpaired whatever the configuration (a handshake's
// last flight lost right after a test turns impairment on would stall the
// other side for a retransmission timeout); every other datagram meets its
// fate, and a black hole still takes DTLS too.
func TestRelayNeverImpairsDTLS(t *testing.T) {
	r := newRelay(t, echoServer(t), Config{Seed: 3, Loss: 1}, Config{Seed: 4, Corrupt: 1, Truncate: 1, Duplicate: 1})
	c := dialRelay(t, r)
	srtp := append([]byte{0x80, 96}, make([]byte, 40)...)
	dtls := append([]byte{22, 0xfe, 0xfd}, make([]byte, 40)...) // a DTLS 1.2 handshake record
	dtls[len(dtls)-1] = 7
	for _, p := range [][]byte{srtp, dtls} {
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 100)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != string(dtls) {
		t.Fatalf("echo %x, %v; want the DTLS record %x intact", buf[:n], err, dtls)
	}
	// The relay reads in order: the SRTP datagram ahead of it was lost.
	if k := r.Counters(ClientToTarget); k.In != 2 || k.Dropped != 1 || k.Out != 1 {
		t.Fatalf("client→target counters %+v", k)
	}
	if k := r.Counters(TargetToClient); k.Duplicated != 0 || k.Out != 1 {
		t.Fatalf("target→client counters %+v: the DTLS echo was impaired", k)
	}

	r.SetBlackhole(ClientToTarget, true)
	if _, err := c.Write(dtls); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for r.Counters(ClientToTarget).In != 3 {
		if time.Now().After(deadline) {
			t.Fatal("the relay never read the third datagram")
		}
		time.Sleep(time.Millisecond)
	}
	if k := r.Counters(ClientToTarget); k.Dropped != 2 || k.Out != 1 {
		t.Fatalf("a black hole let DTLS through: %+v", k)
	}
}
