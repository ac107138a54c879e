package sfu

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"github.com/seatsfu/seatsfu/media"
	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/sfu/rtcconn"
)

const (
	defaultGatherTimeout = 5 * time.Second
	defaultViewerQueue   = 256
)

// SFU is the media server: one ICE UDP mux, one webrtc API, many rooms.
type SFU struct {
	cfg         Config
	log         *slog.Logger
	conn        *net.UDPConn
	mux         io.Closer
	tcpMux      io.Closer      // ICE-TCP; nil when off
	tcpAddr     net.Addr       // its bound address
	turn        *turnServer    // nil when off
	relayIP     net.IP         // what TURN allocations relay from
	pubAPI      *webrtc.API    // publish connections: NACK generator, receiver reports
	subAPI      *subscriberAPI // subscribe connections: no interceptors, one API each (engine.go)
	videoCodec  media.Codec
	m           *metrics
	ov          overload // overload.go
	egress      *egressSocket
	own         *rtcconn.Mux // the viewers' own transport (viewerconn.go); nil: Pion's
	videoParams webrtc.RTPCodecParameters
	writers     *writerPool // every viewer's writer (writers.go)
	// probeBudget is the node's padding bucket (probe.go).
	probeBudget *rate.Limiter

	// Lock order in this package, outermost first: a lock is only taken
	// while holding locks above it in this list.
	//
	//	Room.mu      seat operations and forwarding decisions (room.go)
	//	slot.mu      a viewer slot's binding and writer state (viewer.go);
	//	             repoint takes it under Room.mu
	//	upstream.mu  a source's feedback to its publisher (upstream.go);
	//	             keyframe requests and upstream NACKs, under either above
	//	SFU.mu       the room registry; a room leaves it under its own lock
	//	             (endLocked → dropRoom)
	//	Peer.mu, SFU.bgMu, viewer.mu, viewerEgress.mu, writerPool.mu, replayBudget.mu:
	//	             leaves, taken alone or last
	//
	// So nothing takes a Room's lock, arms a timer or calls out while holding
	// SFU.mu (OpenRoom arms the first deadline after releasing it).
	mu     sync.Mutex
	rooms  map[string]*Room
	closed bool

	coMu sync.Mutex // co-host slots' rooms (cohost.go); before any room's mu

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
	if cfg.MaxCohosts != 0 && (cfg.MaxCohosts < 2 || cfg.MaxCohosts > 9) {
		return nil, fmt.Errorf("sfu: MaxCohosts %d outside 2..9", cfg.MaxCohosts)
	}
	if o := cfg.Overload; o.EgressCPU < 0 || o.EgressBudget < 0 || o.EgressFloor < 0 || o.ViewerRetransmits < 0 || o.NodeRetransmits < 0 || o.NodeKeyframeRequests < 0 {
		return nil, fmt.Errorf("sfu: negative overload cap %+v", o)
	}
	if cfg.Overload.EgressCPU > 100 {
		return nil, fmt.Errorf("sfu: EgressCPU %d over 100 (percent of the node's cores)", cfg.Overload.EgressCPU)
	}
	if err := validViewerTransport(cfg.ViewerTransport); err != nil {
		return nil, err
	}
	if cfg.TCPUnsent < 0 || cfg.TCPWriteTimeout < 0 {
		return nil, fmt.Errorf("sfu: negative ICE-TCP bound (unsent %d, write timeout %v)", cfg.TCPUnsent, cfg.TCPWriteTimeout)
	}
	if cfg.DemuxQueue < 0 {
		return nil, fmt.Errorf("sfu: negative demux queue %d", cfg.DemuxQueue)
	}
	if err := cfg.Adapt.validate(); err != nil {
		return nil, err
	}
	for name, p := range map[string]int{"UDP": cfg.UDPPort, "TCP": cfg.TCPPort, "TURN": cfg.TURNPort} {
		if p < 0 || p > 65535 {
			return nil, fmt.Errorf("sfu: %s port %d out of range", name, p)
		}
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
	s := &SFU{cfg: cfg, log: log, conn: conn, m: m, rooms: map[string]*Room{}}
	if s.egress, err = newEgressSocket(conn, !cfg.PionEgress, !cfg.NoGSO, cfg.Registerer); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("sfu: metrics: %w", err)
	}
	s.writers = newWriterPool(runtime.GOMAXPROCS(0), s.egress)
	s.ov.init(cfg.Overload, &s.m.ov)
	s.probeBudget = bucket(cfg.Adapt.nodeRate())
	s.noteLimits()
	if err := s.openTransports(); err != nil {
		s.writers.close()
		_ = s.closeTransports()
		return nil, err
	}
	s.startEgressSampler()
	log.Info("media port open", "addr", conn.LocalAddr().String(), "tcp", s.tcpAddr, "turnPort", s.TURNPort(),
		"videoCodec", s.videoCodec.String())
	return s, nil
}

// openTransports opens what carries ICE besides the UDP port — the ICE-TCP
// listener and the TURN server, when configured — and builds the APIs on
// them.
func (s *SFU) openTransports() error {
	var tcp net.Listener
	if s.cfg.ICETCP {
		ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.ParseIP(s.cfg.ListenIP), Port: s.cfg.TCPPort})
		if err != nil {
			return fmt.Errorf("sfu: ICE-TCP port: %w", err)
		}
		tcp, s.tcpAddr = ln, ln.Addr()
	}
	if s.cfg.TURN {
		host := hostAddresses(s.cfg)
		s.relayIP = relayAddress(s.cfg, host)
		ts, err := startTURN(s.cfg, s.relayIP, host, s.m, s.log)
		if err != nil {
			if tcp != nil {
				_ = tcp.Close()
			}
			return err
		}
		s.turn = ts
	}
	conn, tcp, err := s.openOwnTransport(tcp)
	if err == nil {
		s.pubAPI, s.subAPI, s.mux, s.tcpMux, s.videoParams, err = newAPI(s.cfg, conn, tcp, s.log)
	}
	if err != nil {
		if tcp != nil {
			_ = tcp.Close()
		}
		return err
	}
	s.videoCodec = media.CodecFromMime(s.videoParams.MimeType)
	return nil
}

// closeTransports releases the ports openTransports and New opened.
func (s *SFU) closeTransports() error {
	var errs []error
	if s.turn != nil {
		errs = append(errs, s.turn.close())
	}
	if s.tcpMux != nil {
		errs = append(errs, s.tcpMux.Close())
	}
	if s.mux != nil {
		errs = append(errs, s.mux.Close())
	}
	if s.own != nil {
		errs = append(errs, s.own.Close())
	}
	if err := s.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
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

// TCPAddr is the bound ICE-TCP address, nil when ICE-TCP is off.
func (s *SFU) TCPAddr() *net.TCPAddr {
	if s.tcpAddr == nil {
		return nil
	}
	return s.tcpAddr.(*net.TCPAddr)
}

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
	s.writers.close() // after the peers: a closed viewer's last turn releases its queue
	s.stopEgressSampler()
	err := s.closeTransports()
	s.egress.closeOutbox() // after the transports: nothing posts any more
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
	r := newRoom(s, sr, cfg)
	if err := s.register(r); err != nil {
		return nil, err
	}
	// Only now, with SFU.mu released (lock order, above): take the room's
	// lock and arm its first deadline. A Close that slipped in between has
	// already ended the room, and an ended room arms nothing.
	r.mu.Lock()
	if !r.ended {
		r.afterOp()
	}
	r.mu.Unlock()
	r.log.Info("room opened", "max_seats", r.maxSeats, "owner", cfg.Seat.Owner.UserID)
	return r, nil
}

// register adds r to the registry: an error if the SFU is closed or the id
// is taken.
func (s *SFU) register(r *Room) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("sfu: closed")
	}
	if _, taken := s.rooms[r.id]; taken {
		return fmt.Errorf("sfu: room %q is already open", r.id)
	}
	s.rooms[r.id] = r
	s.m.rooms.Inc()
	return nil
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
