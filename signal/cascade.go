package signal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/token"
)

// The media cascade (PROTOCOL.md §12): a node whose relayed viewers watch
// a room hosted elsewhere subscribes to the host once, as one viewer, and
// serves its viewers from a local mirror of the room's seat slots — so the
// host's cost per remote node is one viewer, whatever that node's audience.
//
// How it is built, reusing sfu unchanged:
//
//   - The edge opens the host's /v1/cascade (cascade_host.go) with a token
//     it mints with the shared secret for "node.<id>", over its own small
//     JSON-RPC caller (cascade_link.go; the server does not use the Go
//     SDK). It is no member of the room: room.join there answers the
//     room's shape only. It sends rtc.subscribe with a recvonly offer of
//     maxSeats audio+video pairs: one PeerConnection, one SSRC per seat
//     slot, continuous across seat changes, gated by the host.
//   - It asks the host, per seat, for the best quality any local viewer
//     wants (cascade_quality.go), so the host's rtc.publisherLayers counts
//     remote viewers.
//   - Locally it opens a mirror room "cascade:<room>" (a name no token can
//     ask for) whose every seat k is held by a synthetic publisher
//     "cascade-k"; each publishes into the mirror over a loopback
//     PeerConnection to this node's own media port, carrying what the host
//     sends on slot k. To sfu these are publishers like any other: its NACK
//     cache, keyframe cache, PLI coalescing and writers serve local viewers.
//     A PLI the mirror sends a loopback publisher goes on to the host as a
//     PLI for that slot (the host coalesces them per source).
//   - The relay serves a relayed viewer's rtc.subscribe (and its subscribe
//     candidates) from the mirror instead of passing it to the host. A
//     socket that has sent rtc.publish keeps subscribing at the host: the
//     mirror cannot leave a publisher's own seat out of its media.
//   - The subscription also takes the host room's co-host slots
//     (PROTOCOL.md §10, Media): slot k carries what the host points it at
//     (a room of the host's node, or its own cascade of another node's
//     room). Each feeds seat 0 of a one-owner mirror "cascade:<room>#k",
//     and the mirror's co-host slots are pointed at those once: the host
//     re-points, the edge never learns the connection (cohost_mirror.go).
//   - The cascade ends with its last local viewer.
//
// The mirror does not gate: the host forwards only what may be forwarded,
// so a kick on the host stops the media at every node within the host's
// own gating plus one hop.

// cascadeUserPrefix names the member a cascading node is on the host.
const cascadeUserPrefix = "node."

// cascadeSetup bounds setting a cascade up (join, subscribe, ICE).
const cascadeSetup = 10 * time.Second

// cascadeURL is the host's cascade endpoint, from the /v1/rtc URL the
// relay dials.
func cascadeURL(rtcURL string) string {
	return strings.TrimSuffix(rtcURL, "/v1/rtc") + cascadePath
}

// cascades are this node's cascades by room.
type cascades struct {
	c       *clusterEdge
	mu      sync.Mutex
	byRoom  map[string]*cascade
	closed  bool
	packets *prometheus.CounterVec // relay_packets_total{direction}
	open    *prometheus.GaugeVec   // cascades{role}
	links   cascadeLinks           // the cascades other nodes have here (cascade_host.go)
}

func newCascades(c *clusterEdge, reg prometheus.Registerer) (*cascades, error) {
	m := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "seatsfu", Name: "relay_packets_total",
		Help: "Media packets of the cascade between nodes: in = received from a hosting node, out = sent on to local mirrors."},
		[]string{"direction"})
	if err := reg.Register(m); err != nil {
		return nil, err
	}
	m.WithLabelValues("in")
	m.WithLabelValues("out")
	open := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "seatsfu", Name: "cascades",
		Help: "Media cascades (one subscription per room and pair of nodes): host = served here to other nodes, edge = held here to rooms' hosts."},
		[]string{"role"})
	if err := reg.Register(open); err != nil {
		return nil, err
	}
	return &cascades{c: c, byRoom: make(map[string]*cascade), packets: m, open: open,
		links: cascadeLinks{conns: make(map[*websocket.Conn]struct{}), served: open.WithLabelValues("host")}}, nil
}

// cascade is one room's subscription to its host and its local mirror.
type cascade struct {
	cs      *cascades
	room    string
	ready   chan struct{} // closed once set up or failed
	err     error
	viewers int // guarded by cs.mu

	mirror  *sfu.Room
	peers   []*sfu.Room // the co-host slots' mirrors, cohost index 1.. (cohost_mirror.go)
	coLoops []*loopPub  // their seat-0 publishers
	host    *cascadeLink
	pc      *webrtc.PeerConnection
	loops   []*loopPub
	slots   map[string]proto.Slot // by mid
	wants   *cascadeWants         // the local viewers' qualities (cascade_quality.go)
	wg      sync.WaitGroup        // forwarding, RTCP and quality goroutines
	closing sync.Once
	counted bool // set up, so in cascades{role="edge"}
}

// loopPub is the synthetic publisher of one mirror seat.
type loopPub struct {
	pc     *webrtc.PeerConnection
	tracks [2]*webrtc.TrackLocalStaticRTP // audio, video
	remote [2]atomic.Uint32               // the host slot's SSRC, for PLIs
}

// acquire returns the room's cascade, setting it up on first use; each
// acquire is matched by a release.
func (cs *cascades) acquire(room, hostURL string) (*cascade, error) {
	cs.mu.Lock()
	if cs.closed {
		cs.mu.Unlock()
		return nil, errors.New("cascade: shutting down")
	}
	k := cs.byRoom[room]
	if k != nil && k.stale() {
		// The host ended this cascade (the room moved or its host
		// stopped) while some of its viewers have yet to let go: a new
		// viewer gets a new one; the old closes with its last viewer.
		delete(cs.byRoom, room)
		k = nil
	}
	fresh := k == nil
	if fresh {
		k = &cascade{cs: cs, room: room, ready: make(chan struct{})}
		cs.byRoom[room] = k
	}
	k.viewers++
	cs.mu.Unlock()
	if fresh {
		k.err = k.setup(hostURL)
		close(k.ready)
	}
	<-k.ready
	if k.err != nil {
		cs.release(k)
		return nil, k.err
	}
	return k, nil
}

// stale reports whether k was set up and has since lost the host: its
// link ended, or its media connection failed (ICE consent, which outlives
// a silent partition that a quiet WebSocket would not notice).
func (k *cascade) stale() bool {
	select {
	case <-k.ready:
	default:
		return false // being set up
	}
	if k.err != nil || k.host == nil {
		return false // failed: its acquirers release it
	}
	select {
	case <-k.host.Done():
		return true
	default:
	}
	switch k.pc.ConnectionState() {
	case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
		return true
	}
	return false
}

// release drops one viewer; the last one closes the cascade.
func (cs *cascades) release(k *cascade) {
	cs.mu.Lock()
	k.viewers--
	last := k.viewers == 0
	if last && cs.byRoom[k.room] == k {
		delete(cs.byRoom, k.room)
	}
	cs.mu.Unlock()
	if last {
		k.close()
	}
}

// closeAll ends every cascade (shutdown).
func (cs *cascades) closeAll() {
	cs.mu.Lock()
	cs.closed = true
	all := cs.byRoom
	cs.byRoom = map[string]*cascade{}
	cs.mu.Unlock()
	cs.links.closeAll()
	for _, k := range all {
		<-k.ready
		k.close()
	}
}

func (k *cascade) setup(hostURL string) error {
	srv := k.cs.c.srv
	ctx, cancel := context.WithTimeout(srv.ctx, cascadeSetup)
	defer cancel()
	raw, err := token.Mint(srv.cfg.Secret, token.Identity{
		UserID: cascadeUserPrefix + k.cs.c.node.ID(), Room: k.room, Name: "cascade", Role: proto.RoleAudience,
	}, 24*time.Hour)
	if err != nil {
		return err
	}
	if k.host, err = dialCascade(ctx, cascadeURL(hostURL), raw); err != nil {
		return fmt.Errorf("cascade: dial host: %w", err)
	}
	var snap proto.Snapshot
	if err := k.host.call(ctx, proto.MethodRoomJoin, nil, &snap); err != nil {
		return fmt.Errorf("cascade: join host: %w", err)
	}
	// The host's answer sizes the mirror (a loopback connection a seat):
	// only a room's possible shape is taken.
	if snap.Room.MaxSeats < seat.MinSeats || snap.Room.MaxSeats > seat.MaxSeatsLimit {
		return fmt.Errorf("cascade: the host's room has %d seats", snap.Room.MaxSeats)
	}
	// The subscription's connection exists before the loopbacks, whose
	// PLI forwarders write to it.
	audio, video := k.cs.c.srv.cfg.SFU.Codecs()
	api, err := cascadeAPI(audio, video)
	if err != nil {
		return err
	}
	if k.pc, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		return err
	}
	if err := k.openMirror(api, snap.Room.MaxSeats); err != nil {
		return err
	}
	if err := k.openCohostMirrors(api); err != nil {
		return err
	}
	if err := k.subscribe(ctx, snap.Room.MaxSeats+len(k.coLoops)); err != nil {
		return err
	}
	k.cs.open.WithLabelValues("edge").Inc()
	k.counted = true
	k.wants = newCascadeWants(snap.Room.MaxSeats)
	k.wg.Add(1)
	go k.pushQuality()
	return nil
}

// openMirror opens the mirror room with every seat held by a loopback
// publisher.
func (k *cascade) openMirror(api *webrtc.API, maxSeats int) error {
	srv := k.cs.c.srv
	owner := seat.User{UserID: "cascade-0", Name: "cascade", Role: seat.RoleOwner}
	mirror, err := srv.cfg.SFU.OpenRoom(sfu.RoomConfig{Notifier: dropNotifier{}, Seat: seat.Config{
		RoomID: "cascade:" + k.room, MaxSeats: maxSeats, Mode: seat.ModeFree, Owner: owner, Clock: srv.cfg.Clock,
	}})
	if err != nil {
		return fmt.Errorf("cascade: mirror: %w", err)
	}
	k.mirror = mirror
	err = mirror.Do(func(r *seat.Room) ([]seat.Delivery, error) {
		for i := 0; i < maxSeats; i++ {
			u := seat.User{UserID: fmt.Sprintf("cascade-%d", i), Name: "cascade", Role: seat.RoleAudience}
			if i == 0 {
				u = owner
			}
			if _, _, err := r.Join(u); err != nil {
				return nil, err
			}
			if r.SeatOf(u.UserID) == i {
				continue
			}
			if _, _, err := r.Take(u.UserID, i); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
	if err != nil {
		return fmt.Errorf("cascade: seat the mirror: %w", err)
	}
	audio, video := srv.cfg.SFU.Codecs()
	for i := 0; i < maxSeats; i++ {
		lp, err := k.openLoop(api, k.mirror, i, audio, video)
		if err != nil {
			return err
		}
		k.loops = append(k.loops, lp)
	}
	return nil
}

// openLoop publishes seat i of the mirror from this node to itself.
func (k *cascade) openLoop(api *webrtc.API, into *sfu.Room, i int, audio, video webrtc.RTPCodecParameters) (*loopPub, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	lp := &loopPub{pc: pc}
	for kind, c := range []webrtc.RTPCodecParameters{audio, video} {
		tr, err := webrtc.NewTrackLocalStaticRTP(c.RTPCodecCapability, fmt.Sprintf("k%d", kind), fmt.Sprintf("seat%d", i))
		if err != nil {
			_ = pc.Close()
			return nil, err
		}
		lp.tracks[kind] = tr
		sender, err := pc.AddTrack(tr)
		if err != nil {
			_ = pc.Close()
			return nil, err
		}
		k.wg.Add(1)
		go k.forwardPLI(sender, lp, kind)
	}
	offer, err := gatheredOffer(pc)
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	_, answer, err := into.Publish(fmt.Sprintf("cascade-%d", i), offer)
	if err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("cascade: loopback publish of seat %d: %w", i, err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		_ = pc.Close()
		return nil, err
	}
	return lp, nil
}

// forwardPLI turns the mirror's keyframe requests for a loopback track into
// PLIs for the host's slot.
func (k *cascade) forwardPLI(sender *webrtc.RTPSender, lp *loopPub, kind int) {
	defer k.wg.Done()
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				if ssrc := lp.remote[kind].Load(); ssrc != 0 {
					_ = k.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
				}
			}
		}
	}
}

// subscribe opens the one subscription to the host, pairs audio+video
// pairs (the seats, then the co-host slots), and forwards each slot into
// its loopback publisher.
func (k *cascade) subscribe(ctx context.Context, pairs int) error {
	pc := k.pc
	for range pairs {
		for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
			if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
				return err
			}
		}
	}
	pc.OnTrack(k.forward)
	offer, err := gatheredOffer(pc)
	if err != nil {
		return err
	}
	var res proto.SubscribeResult
	if err := k.host.call(ctx, proto.MethodRTCSubscribe, proto.SDPParams{SDP: offer}, &res); err != nil {
		return fmt.Errorf("cascade: subscribe at the host: %w", err)
	}
	k.slots = make(map[string]proto.Slot, len(res.Slots))
	for _, sl := range res.Slots {
		k.slots[sl.Mid] = sl
	}
	return pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: res.SDP})
}

// forward copies one host slot into its mirror seat's loopback track.
func (k *cascade) forward(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	var mid string
	for _, x := range k.pc.GetTransceivers() {
		if x.Receiver() == recv {
			mid = x.Mid()
		}
	}
	sl, ok := k.slots[mid]
	if !ok {
		return
	}
	var lp *loopPub
	switch {
	case sl.SeatIndex >= 0 && sl.SeatIndex < len(k.loops):
		lp = k.loops[sl.SeatIndex]
	case sl.CohostIndex >= 1 && sl.CohostIndex <= len(k.coLoops):
		lp = k.coLoops[sl.CohostIndex-1]
	default:
		return
	}
	kind := 0
	if tr.Kind() == webrtc.RTPCodecTypeVideo {
		kind = 1
	}
	lp.remote[kind].Store(uint32(tr.SSRC()))
	in, out := k.cs.packets.WithLabelValues("in"), k.cs.packets.WithLabelValues("out")
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		in.Inc()
		if lp.tracks[kind].WriteRTP(pkt) == nil {
			out.Inc()
		}
	}
}

// close ends the host subscription, the loopbacks and the mirror. Both the
// last viewer's release and a shutdown may call it.
func (k *cascade) close() { k.closing.Do(k.closeOnce) }

func (k *cascade) closeOnce() {
	if k.host != nil {
		k.host.close()
	}
	if k.pc != nil {
		_ = k.pc.Close()
	}
	for _, lp := range append(k.loops, k.coLoops...) {
		_ = lp.pc.Close()
	}
	if k.mirror != nil {
		k.mirror.Abandon()
	}
	for _, p := range k.peers {
		p.Abandon()
	}
	if k.wants != nil {
		close(k.wants.stop)
	}
	k.wg.Wait()
	if k.counted {
		k.cs.open.WithLabelValues("edge").Dec()
	}
}

// cascadeAPI is a Pion API for the cascade's own connections: the room's
// codecs and the default interceptors (NACKs and reports on both legs).
func cascadeAPI(audio, video webrtc.RTPCodecParameters) (*webrtc.API, error) {
	var me webrtc.MediaEngine
	if err := me.RegisterCodec(audio, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	if err := me.RegisterCodec(video, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, err
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(&me)), nil
}

// gatheredOffer is pc's offer with its candidates (no trickle on these
// legs).
func gatheredOffer(pc *webrtc.PeerConnection) (string, error) {
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return "", err
	}
	select {
	case <-done:
	case <-time.After(cascadeSetup):
		return "", errors.New("cascade: ICE gathering timed out")
	}
	return pc.LocalDescription().SDP, nil
}

// dropNotifier is the mirror's notifier: nobody listens to a mirror's seat
// events (viewers get the host's, relayed).
type dropNotifier struct{}

func (dropNotifier) Notify(*sfu.Room, []seat.Delivery) {}

// --- the relay's side: serving relayed viewers from the mirror ---

// relayState is what a relayed socket's cascade interception keeps.
type relayState struct {
	user    string
	room    string
	target  string // the host's /v1/rtc
	publish bool   // the socket sent rtc.publish: it subscribes at the host
	casc    *cascade
	sub     *sfu.Peer
}

// interceptUp serves frame (client → host) locally when it is a relayed
// viewer's rtc.subscribe, subscribe candidate or rtc.setQuality (the
// mirror serves its media); it reports whether it did.
// Everything else goes on to the host.
func (c *clusterEdge) interceptUp(ctx context.Context, st *relayState, reply func([]byte), frame []byte) bool {
	var req struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	if json.Unmarshal(frame, &req) != nil || len(req.ID) == 0 {
		return false
	}
	switch req.Method {
	case proto.MethodRTCPublish:
		st.publish = true
		return false
	case proto.MethodRTCSubscribe:
		if st.publish {
			return false
		}
		var p proto.SDPParams
		if json.Unmarshal(req.Params, &p) != nil || p.SDP == "" {
			return false // the host answers the bad params
		}
		if st.casc == nil {
			k, err := c.cas.acquire(st.room, st.target)
			if err != nil {
				c.srv.log.Warn("cluster: cascade", "room", st.room, "err", err)
				return false // the host serves the viewer itself
			}
			st.casc = k
		}
		// rtc.quality comes from the mirror, which serves the media.
		quality := sfu.OnQuality(func(qs []sfu.SlotQuality) {
			note := proto.QualityNote{Slots: make([]proto.SlotQuality, len(qs))}
			for i, q := range qs {
				note.Slots[i] = proto.SlotQuality{SeatIndex: q.SeatIndex, CohostIndex: q.CohostIndex, Layer: proto.Layer(q.Layer), Reason: q.Reason}
			}
			if b, err := encodeNotification(proto.NoteRTCQuality, note); err == nil {
				reply(b)
			}
		})
		peer, answer, slots, err := st.casc.mirror.Subscribe(st.user, p.SDP, 0, quality)
		if err != nil {
			reply(encodeError(req.ID, toSeatError(err)))
			return true
		}
		if st.sub != nil {
			_ = st.sub.Close()
		}
		st.sub = peer
		st.casc.wants.subscribed(st)
		res := proto.SubscribeResult{SDP: answer, Slots: make([]proto.Slot, 0, len(slots))}
		for _, sl := range slots {
			res.Slots = append(res.Slots, proto.Slot(sl))
		}
		b, err := encodeResult(req.ID, res)
		if err != nil {
			return false
		}
		reply(b)
		return true
	case proto.MethodRTCSetQuality:
		if st.sub == nil {
			return false // the host answers: no subscription
		}
		var p proto.SetQualityParams
		if err := decodeParams(req.Params, &p); err != nil {
			reply(encodeError(req.ID, err))
			return true
		}
		if err := checkQuality(&p); err != nil {
			reply(encodeError(req.ID, toSeatError(err)))
			return true
		}
		if k := p.CohostIndex; k != nil {
			// Checked and kept as on the host (rtcquality.go); the
			// mirror's co-host slots carry nothing yet: co-hosting does
			// not cross nodes.
			if max := c.srv.cfg.MaxCohosts; *k < 1 || *k >= max {
				reply(encodeError(req.ID, invalidParams(fmt.Sprintf("cohostIndex must be 1..%d", max-1))))
				return true
			}
			if err := st.sub.SetCohostQuality(*k, sfu.Quality(p.Quality)); err != nil {
				reply(encodeError(req.ID, toSeatError(err)))
				return true
			}
			b, _ := encodeResult(req.ID, struct{}{})
			reply(b)
			return true
		}
		if err := st.sub.SetQuality(*p.SeatIndex, sfu.Quality(p.Quality)); err != nil {
			reply(encodeError(req.ID, toSeatError(err)))
			return true
		}
		st.casc.wants.set(st, *p.SeatIndex, p.Quality)
		b, _ := encodeResult(req.ID, struct{}{})
		reply(b)
		return true
	case proto.MethodRTCCandidate:
		var p proto.CandidateParams
		if st.sub == nil || json.Unmarshal(req.Params, &p) != nil || p.PC != proto.PCSubscribe || p.Candidate == nil {
			return false
		}
		if err := st.sub.AddCandidate(webrtc.ICECandidateInit(*p.Candidate)); err != nil {
			reply(encodeError(req.ID, invalidParams("candidate: "+truncate(err.Error(), 200))))
			return true
		}
		b, _ := encodeResult(req.ID, nil)
		reply(b)
		return true
	}
	return false
}

// end releases what the socket held of the cascade.
func (st *relayState) end(cs *cascades) {
	if st.sub != nil {
		_ = st.sub.Close()
	}
	if st.casc != nil {
		st.casc.wants.gone(st)
		cs.release(st.casc)
	}
}

// toSeatError maps an sfu refusal to its wire error.
func toSeatError(err error) *seat.Error {
	var se *seat.Error
	if errors.As(err, &se) {
		return se
	}
	return errInternal
}
