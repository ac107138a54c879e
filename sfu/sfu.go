package sfu

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/media"
	"github.com/seatsfu/seatsfu/seat"
)

const (
	defaultGatherTimeout = 5 * time.Second
	defaultViewerQueue   = 256
)

// SFU is the media server: one ICE UDP mux, one webrtc API, many rooms.
type SFU struct {
	cfg        Config
	log        *slog.Logger
	conn       *net.UDPConn
	mux        io.Closer
	pubAPI     *webrtc.API // publish connections: NACK generator, receiver reports
	subAPI     *webrtc.API // subscribe connections: no interceptors (engine.go)
	videoCodec media.Codec
	m          *metrics

	mu     sync.Mutex
	rooms  map[string]*Room
	closed bool

	// bg owns the goroutines that outlive the call that started them:
	// asynchronous peer closes. Close waits for them; once it does, bgStopped
	// refuses new ones (every peer is already closing by then).
	bg        sync.WaitGroup
	bgMu      sync.Mutex
	bgStopped bool
}

// New starts the media server (binds the UDP port).
func New(cfg Config) (*SFU, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.GatherTimeout <= 0 {
		cfg.GatherTimeout = defaultGatherTimeout
	}
	if cfg.ViewerQueue <= 0 {
		cfg.ViewerQueue = defaultViewerQueue
	}
	if cfg.UDPPort < 0 || cfg.UDPPort > 65535 {
		return nil, fmt.Errorf("sfu: UDP port %d out of range", cfg.UDPPort)
	}
	for _, ip := range cfg.IPs {
		if net.ParseIP(ip) == nil {
			return nil, fmt.Errorf("sfu: %q is not an IP address", ip)
		}
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("sfu: metrics: %w", err)
	}
	laddr := &net.UDPAddr{Port: cfg.UDPPort}
	if cfg.ListenIP != "" {
		if laddr.IP = net.ParseIP(cfg.ListenIP); laddr.IP == nil {
			return nil, fmt.Errorf("sfu: listen address %q is not an IP address", cfg.ListenIP)
		}
	}
	conn, err := net.ListenUDP("udp", laddr)
	if err != nil {
		return nil, fmt.Errorf("sfu: media port: %w", err)
	}
	log := cfg.Logger.With("component", "sfu")
	sizeSocketBuffers(conn, log)
	pubAPI, subAPI, mux, video, err := newAPI(cfg, conn, log)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	s := &SFU{
		cfg: cfg, log: log, conn: conn, mux: mux, pubAPI: pubAPI, subAPI: subAPI, m: m,
		videoCodec: media.CodecFromMime(video.MimeType),
		rooms:      map[string]*Room{},
	}
	log.Info("media port open", "addr", conn.LocalAddr().String(), "videoCodec", video.MimeType)
	return s, nil
}

// socketBuffer is what the one media socket asks the kernel for in each
// direction. Every publisher's packets and every viewer's RTCP and STUN
// share it; with the kernel's default (~200 KiB) a moment in which the mux
// reader loses the CPU to hundreds of viewer writers overflows it, the
// losses trigger keyframe requests, and the bigger keyframes make the next
// overflow likelier (seen at 200 viewers in bench/). The kernel silently
// caps the request at net.core.rmem_max / wmem_max: raise those on a busy
// server.
const socketBuffer = 8 << 20

func sizeSocketBuffers(conn *net.UDPConn, log *slog.Logger) {
	if err := conn.SetReadBuffer(socketBuffer); err != nil {
		log.Warn("media socket: cannot size the receive buffer", "err", err)
	}
	if err := conn.SetWriteBuffer(socketBuffer); err != nil {
		log.Warn("media socket: cannot size the send buffer", "err", err)
	}
}

// Addr is the bound UDP address of the media port.
func (s *SFU) Addr() *net.UDPAddr { return s.conn.LocalAddr().(*net.UDPAddr) }

// Close ends every room's media and releases the UDP port. Rooms are not
// ended in the seat sense (signal does that with a ServerShutdown Do first);
// their peers are closed and they leave the registry.
func (s *SFU) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	rooms := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	for _, r := range rooms {
		r.closeMedia()
	}
	s.bgMu.Lock()
	s.bgStopped = true
	s.bgMu.Unlock()
	s.bg.Wait()
	err := s.mux.Close()
	if cerr := s.conn.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) && err == nil {
		err = cerr
	}
	return err
}

// OpenRoom creates a room; an error if the id is taken or the seat config is
// invalid.
func (s *SFU) OpenRoom(cfg RoomConfig) (*Room, error) {
	if cfg.Notifier == nil {
		return nil, fmt.Errorf("sfu: room %q: %w", cfg.Seat.RoomID, seat.ErrInvalidParams)
	}
	sr := cfg.Restored
	if sr == nil {
		var err error
		if sr, err = seat.New(cfg.Seat); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("sfu: closed")
	}
	if _, taken := s.rooms[sr.ID()]; taken {
		return nil, fmt.Errorf("sfu: room %q is already open", sr.ID())
	}
	r := newRoom(s, sr, cfg)
	s.rooms[r.id] = r
	s.m.rooms.Inc()
	r.mu.Lock()
	r.afterOp()
	r.mu.Unlock()
	return r, nil
}

// Room returns an open room, or nil.
func (s *SFU) Room(id string) *Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rooms[id]
}

// Rooms returns the open rooms (for shutdown and metrics).
func (s *SFU) Rooms() []*Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		out = append(out, r)
	}
	return out
}

func (s *SFU) dropRoom(r *Room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[r.id] == r {
		delete(s.rooms, r.id)
		s.m.rooms.Dec()
	}
}

// goBackground runs f on a goroutine Close waits for. After Close started
// waiting it does nothing: every peer was handed a close before that.
func (s *SFU) goBackground(f func()) {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.bgStopped {
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		f()
	}()
}

// Codecs are the codecs every room forwards: Opus and the node's one video
// codec. A node that feeds a room from another node's (the cluster's media
// cascade, PROTOCOL.md §12) negotiates exactly these.
func (s *SFU) Codecs() (audio, video webrtc.RTPCodecParameters) {
	v, _ := videoCodec(s.cfg.VideoCodec) // checked by New
	return opusCodec(), v
}
