package peer

import (
	"fmt"
	"net"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"github.com/seatsfu/seatsfu/bench/synth"
)

// RawViewer receives the raw baseline's SRTP on a plain UDP socket, with
// keys handed over by the server: no ICE, no DTLS. It feeds the same
// per-track tallies as Viewer. One goroutine reads the socket until Close.
type RawViewer struct {
	conn *net.UDPConn
	sink *Sink
	done chan struct{}

	mu      sync.Mutex
	ctx     *srtp.Context
	tracks  map[uint32]*trackRx
	order   []*trackRx
	subNs   int64
	reading bool
}

// NewRawViewer binds a loopback socket; Addr is what to tell the server.
func NewRawViewer(sink *Sink) (*RawViewer, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("peer: raw viewer socket: %w", err)
	}
	_ = conn.SetReadBuffer(1 << 20)
	return &RawViewer{conn: conn, sink: sink, done: make(chan struct{}), tracks: map[uint32]*trackRx{}}, nil
}

// Addr is the viewer's socket address.
func (v *RawViewer) Addr() string { return v.conn.LocalAddr().String() }

// Start installs the keys and starts reading.
func (v *RawViewer) Start(key, salt []byte, profile srtp.ProtectionProfile) error {
	ctx, err := srtp.CreateContext(key, salt, profile)
	if err != nil {
		return fmt.Errorf("peer: raw viewer keys: %w", err)
	}
	v.mu.Lock()
	v.ctx = ctx
	v.subNs = synth.MonoNow()
	v.reading = true
	v.mu.Unlock()
	go v.read()
	return nil
}

// SubscribedNs is when Start was called.
func (v *RawViewer) SubscribedNs() int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.subNs
}

func (v *RawViewer) read() {
	defer close(v.done)
	in := make([]byte, 1600)
	out := make([]byte, 1600)
	var h rtp.Header
	for {
		n, err := v.conn.Read(in)
		if err != nil {
			return
		}
		pkt, err := v.ctx.DecryptRTP(out[:0], in[:n], &h)
		if err != nil {
			continue
		}
		v.mu.Lock()
		t := v.tracks[h.SSRC]
		if t == nil {
			kind := "audio"
			if h.PayloadType == PayloadVP8 {
				kind = "video"
			}
			t = newTrackRx(v.sink, kind, h.SSRC)
			v.tracks[h.SSRC] = t
			v.order = append(v.order, t)
		}
		v.mu.Unlock()
		t.handle(pkt, synth.MonoNow())
	}
}

// Report returns every track's tally so far.
func (v *RawViewer) Report() []TrackReport {
	v.mu.Lock()
	tracks := append([]*trackRx(nil), v.order...)
	v.mu.Unlock()
	out := make([]TrackReport, 0, len(tracks))
	for _, t := range tracks {
		out = append(out, t.report())
	}
	return out
}

// Close stops the reader and waits for it.
func (v *RawViewer) Close() error {
	err := v.conn.Close()
	v.mu.Lock()
	reading := v.reading
	v.mu.Unlock()
	if reading {
		<-v.done
	}
	return err
}
