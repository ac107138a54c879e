package impair

import (
	"container/heap"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// MaxClients bounds the client addresses one relay serves; packets from
// further ones are dropped.
const MaxClients = 64

// maxDatagram is the largest UDP payload.
const maxDatagram = 65535

// Counters are one direction's packet counts.
type Counters struct {
	In         uint64 // packets received
	Out        uint64 // packets sent (duplicates included)
	Dropped    uint64 // lost, black-holed, or over a queue bound
	Duplicated uint64
}

// Relay forwards UDP datagrams between clients and one target, impairing each
// direction as configured. Each client address gets its own upstream socket,
// so the target sees one peer per client and its replies find their way back.
type Relay struct {
	conn   *net.UDPConn
	target *net.UDPAddr
	log    *slog.Logger
	dirs   [2]*direction

	mu       sync.Mutex
	sessions map[netip.AddrPort]*session
	closed   bool

	done chan struct{}
	wg   sync.WaitGroup
}

// session is one client and its upstream socket.
type session struct {
	client netip.AddrPort
	up     *net.UDPConn
}

// New starts a relay listening on 127.0.0.1 (a free port) and forwarding to
// target, with up impairing client→target and down target→client.
func New(target *net.UDPAddr, up, down Config) (*Relay, error) {
	if target == nil {
		return nil, errors.New("impair: nil target")
	}
	for _, c := range []Config{up, down} {
		if err := c.Validate(); err != nil {
			return nil, err
		}
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("impair: listen: %w", err)
	}
	r := &Relay{
		conn:     conn,
		target:   target,
		log:      slog.Default().With("component", "impair", "target", target.String()),
		sessions: make(map[netip.AddrPort]*session),
		done:     make(chan struct{}),
	}
	for i, c := range []Config{up, down} {
		r.dirs[i] = newDirection(c)
		r.wg.Add(1)
		go r.dirs[i].run(r.done, &r.wg, r.send(Direction(i)))
	}
	r.wg.Add(1)
	go r.readClients()
	return r, nil
}

// Addr is the address clients send to.
func (r *Relay) Addr() *net.UDPAddr { return r.conn.LocalAddr().(*net.UDPAddr) }

// SetBlackhole drops every packet of direction d while on is true.
func (r *Relay) SetBlackhole(d Direction, on bool) {
	if dir := r.dir(d); dir != nil {
		dir.blackhole.Store(on)
	}
}

// SetConfig replaces direction d's impairment from now on (its generator
// restarts from cfg.Seed). Packets already scheduled keep their fate.
func (r *Relay) SetConfig(d Direction, cfg Config) error {
	dir := r.dir(d)
	if dir == nil {
		return fmt.Errorf("impair: unknown %v", d)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	dir.mu.Lock()
	dir.chooser = newChooser(cfg)
	dir.mu.Unlock()
	return nil
}

// Counters reports direction d's counts.
func (r *Relay) Counters(d Direction) Counters {
	dir := r.dir(d)
	if dir == nil {
		return Counters{}
	}
	return Counters{
		In:         dir.in.Load(),
		Out:        dir.out.Load(),
		Dropped:    dir.dropped.Load(),
		Duplicated: dir.dup.Load(),
	}
}

func (r *Relay) dir(d Direction) *direction {
	if d != ClientToTarget && d != TargetToClient {
		return nil
	}
	return r.dirs[d]
}

// Close stops the relay: its sockets close and every goroutine has returned
// when Close does. Packets still scheduled are discarded.
func (r *Relay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.done)
	err := r.conn.Close()
	for _, s := range r.sessions {
		s.up.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
	return err
}

// readClients reads what clients send and hands it to client→target.
func (r *Relay) readClients() {
	defer r.wg.Done()
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				r.log.Warn("client socket read failed", "err", err)
			}
			return
		}
		s := r.session(from)
		if s == nil {
			r.dirs[ClientToTarget].in.Add(1)
			r.dirs[ClientToTarget].dropped.Add(1)
			continue
		}
		r.dirs[ClientToTarget].offer(buf[:n], s)
	}
}

// session finds or opens the upstream socket of client, or nil when the
// relay is closed or full.
func (r *Relay) session(client netip.AddrPort) *session {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.sessions[client]; ok {
		return s
	}
	if r.closed || len(r.sessions) >= MaxClients {
		return nil
	}
	up, err := net.DialUDP("udp", nil, r.target)
	if err != nil {
		r.log.Warn("upstream socket failed", "client", client.String(), "err", err)
		return nil
	}
	s := &session{client: client, up: up}
	r.sessions[client] = s
	r.wg.Add(1)
	go r.readTarget(s)
	return s
}

// readTarget reads the target's replies to one client.
func (r *Relay) readTarget(s *session) {
	defer r.wg.Done()
	buf := make([]byte, maxDatagram)
	for {
		n, err := s.up.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// ICMP port unreachable surfaces as a read error on a
			// connected socket: the target is not up yet. Keep going.
			select {
			case <-r.done:
				return
			default:
				continue
			}
		}
		r.dirs[TargetToClient].offer(buf[:n], s)
	}
}

// send returns how a released packet leaves in direction d.
func (r *Relay) send(d Direction) func(item) error {
	if d == ClientToTarget {
		return func(it item) error {
			_, err := it.s.up.Write(it.pkt)
			return err
		}
	}
	return func(it item) error {
		_, err := r.conn.WriteToUDPAddrPort(it.pkt, it.s.client)
		return err
	}
}

// direction is one way through the relay: the fate of each packet, then a
// scheduler that releases packets at their time.
type direction struct {
	mu      sync.Mutex
	chooser *chooser
	order   uint64 // tie-break for equal release times: arrival order

	blackhole atomic.Bool
	queue     chan item // reader → scheduler, bounded
	limit     int       // packets the scheduler may hold

	in, out, dropped, dup atomic.Uint64
}

type item struct {
	release time.Time
	order   uint64
	pkt     []byte
	s       *session
}

func newDirection(cfg Config) *direction {
	c := newChooser(cfg)
	return &direction{
		chooser: c,
		queue:   make(chan item, c.cfg.QueueLen),
		limit:   c.cfg.QueueLen,
	}
}

// isDTLS reports a DTLS record by its first byte (RFC 7983 §7: 20–63).
//
// DTLS passes the relay unimpaired (a black hole still takes it). The
// handshake's last flight is sent by the side that finishes first: a client
// sees its connection up while that flight may still be on its way through
// the relay, so an impairment switched on at that moment could lose it, and
// the other side would wait a DTLS retransmission timeout (1 s, then 2 s…)
// before it can decrypt anything. What a test measured then was that luck,
// not media. After the handshake DTLS carries nothing but alerts.
func isDTLS(pkt []byte) bool { return len(pkt) > 0 && pkt[0] >= 20 && pkt[0] <= 63 }

// offer decides the fate of one packet and queues its copies.
func (d *direction) offer(pkt []byte, s *session) {
	d.in.Add(1)
	if d.blackhole.Load() {
		d.dropped.Add(1)
		return
	}
	now := time.Now()
	d.mu.Lock()
	f := fate{copies: 1, corruptAt: -1, truncateTo: -1}
	if !isDTLS(pkt) {
		f = d.chooser.decide(len(pkt), now)
	}
	order := d.order
	d.order += 2
	d.mu.Unlock()
	if f.drop {
		d.dropped.Add(1)
		return
	}
	cp := append([]byte(nil), pkt...)
	if f.corruptAt >= 0 && f.corruptAt < len(cp) {
		cp[f.corruptAt] ^= 0xff
	}
	if f.truncateTo >= 0 && f.truncateTo < len(cp) {
		cp = cp[:f.truncateTo]
	}
	for i := 0; i < f.copies; i++ {
		release := now.Add(f.delay)
		if i > 0 {
			release = release.Add(f.dupDelay)
		}
		select {
		case d.queue <- item{release: release, order: order + uint64(i), pkt: cp, s: s}:
			if i > 0 {
				d.dup.Add(1)
			}
		default:
			d.dropped.Add(1)
		}
	}
}

// run is the direction's scheduler: it owns the packets waiting for their
// release time and sends each when it is due.
func (d *direction) run(done <-chan struct{}, wg *sync.WaitGroup, send func(item) error) {
	defer wg.Done()
	var waiting itemHeap
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		// Send everything due.
		now := time.Now()
		for len(waiting) > 0 && !waiting[0].release.After(now) {
			it := heap.Pop(&waiting).(item)
			if err := send(it); err != nil {
				d.dropped.Add(1)
			} else {
				d.out.Add(1)
			}
		}
		if len(waiting) > 0 {
			timer.Reset(waiting[0].release.Sub(now))
		}
		select {
		case <-done:
			return
		case it := <-d.queue:
			if len(waiting) >= d.limit {
				d.dropped.Add(1)
				continue
			}
			heap.Push(&waiting, it)
		case <-timer.C:
		}
	}
}

// itemHeap orders packets by release time, then arrival order.
type itemHeap []item

func (h itemHeap) Len() int { return len(h) }
func (h itemHeap) Less(i, j int) bool {
	if h[i].release.Equal(h[j].release) {
		return h[i].order < h[j].order
	}
	return h[i].release.Before(h[j].release)
}
func (h itemHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *itemHeap) Push(x any)   { *h = append(*h, x.(item)) }
func (h *itemHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = item{}
	*h = old[:len(old)-1]
	return it
}
