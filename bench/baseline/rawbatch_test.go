package baseline

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"golang.org/x/sys/unix"
)

// rtpPacket builds an RTP packet of payload bytes (all equal to fill).
func rtpPacket(t *testing.T, seq uint16, payload int, fill byte, marker bool) []byte {
	t.Helper()
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: 9000, SSRC: 42, Marker: marker}, Payload: bytes.Repeat([]byte{fill}, payload)}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBatcherSendsFramesWithGSO feeds the raw-batched path two frames —
// one of four equal packets and a shorter last one, one of a single packet
// — for two viewers, and checks each viewer receives every packet, once,
// in order, decryptable with its own keys; and that each viewer's 5-packet
// frame went to the kernel as one GSO message.
func TestBatcherSendsFramesWithGSO(t *testing.T) {
	r, err := NewRawBatched(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	type rx struct {
		conn *net.UDPConn
		ctx  *srtp.Context
	}
	var rxs []rx
	var vs []*rawViewer
	for i := 0; i < 2; i++ {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		key, salt := bytes.Repeat([]byte{byte(i + 1)}, 16), bytes.Repeat([]byte{byte(i + 7)}, 12)
		enc, err := srtp.CreateContext(key, salt, RawProfile)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := srtp.CreateContext(key, salt, RawProfile)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, &rawViewer{addr: conn.LocalAddr().(*net.UDPAddr), ctx: enc})
		rxs = append(rxs, rx{conn, dec})
	}
	r.viewers.Store(&vs)

	b := newBatcher(r)
	var sent [][]byte
	for i := 0; i < 5; i++ {
		size := 1000
		if i == 4 {
			size = 300
		}
		sent = append(sent, rtpPacket(t, uint16(100+i), size, byte(i), i == 4))
		b.add(sent[i])
		if i < 4 && len(b.msgs) != 0 {
			t.Fatalf("sent before the frame's marker (packet %d)", i)
		}
	}
	if !r.gso.Load() {
		t.Fatal("the kernel refused UDP GSO on loopback")
	}
	if len(b.msgs) != 2 || len(b.msgs[0].OOB) == 0 || len(b.msgs[1].OOB) == 0 {
		t.Fatalf("want one GSO message per viewer for the 5-packet frame, got %d messages", len(b.msgs))
	}
	sent = append(sent, rtpPacket(t, 105, 80, 9, true)) // an Opus-sized frame of one packet
	b.add(sent[5])
	if len(b.msgs) != 2 || len(b.msgs[0].OOB) != 0 {
		t.Fatalf("a one-packet frame: %d messages, first with %d bytes of cmsg", len(b.msgs), len(b.msgs[0].OOB))
	}

	for i, x := range rxs {
		buf := make([]byte, 2000)
		for j, want := range sent {
			_ = x.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := x.conn.Read(buf)
			if err != nil {
				t.Fatalf("viewer %d packet %d: %v", i, j, err)
			}
			got, err := x.ctx.DecryptRTP(nil, buf[:n], nil)
			if err != nil {
				t.Fatalf("viewer %d packet %d (%d bytes): %v", i, j, n, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("viewer %d packet %d differs: %d bytes, want %d", i, j, len(got), len(want))
			}
		}
	}
}

func TestSegmentCmsg(t *testing.T) {
	oob := appendSegmentCmsg(nil, 1016)
	if len(oob) != 24 && len(oob) != 20 { // CmsgSpace(2) on 64- / 32-bit
		t.Fatalf("cmsg is %d bytes", len(oob))
	}
	if !lastShorter(make([]byte, 2500), 1000, 3) || lastShorter(make([]byte, 3000), 1000, 3) {
		t.Fatal("lastShorter")
	}
}

// How a frame is cut into GSO messages: a run of equal segments, closed by
// a shorter one or a size change; single packets go without a cmsg.
func TestBatcherGSORuns(t *testing.T) {
	r, err := NewRawBatched(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	_ = sink.SetReadBuffer(1 << 20)
	ctx, err := srtp.CreateContext(bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 12), RawProfile)
	if err != nil {
		t.Fatal(err)
	}
	vs := []*rawViewer{{addr: sink.LocalAddr().(*net.UDPAddr), ctx: ctx}}
	r.viewers.Store(&vs)
	for _, c := range []struct {
		sizes []int
		segs  []int // datagrams per message
	}{
		{[]int{1000, 1000, 1000}, []int{3}},
		{[]int{1000, 1000, 1200, 300}, []int{2, 2}},
		{[]int{1000, 300, 1000}, []int{2, 1}},
		{[]int{500}, []int{1}},
	} {
		b := newBatcher(r)
		for i, n := range c.sizes {
			b.add(rtpPacket(t, uint16(i), n, 0, i == len(c.sizes)-1))
		}
		var got []int
		for _, m := range b.msgs {
			segs := 1
			if len(m.OOB) > 0 {
				size := int(*(*uint16)(unsafe.Pointer(&m.OOB[unix.CmsgLen(0)])))
				segs = (len(m.Buffers[0]) + size - 1) / size
			}
			got = append(got, segs)
		}
		if !reflect.DeepEqual(got, c.segs) {
			t.Errorf("sizes %v: messages of %v datagrams, want %v", c.sizes, got, c.segs)
		}
	}
}
