package sfu

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/media"
	"github.com/seatsfu/seatsfu/seat"
)

// keyframeInterval is the least time between two keyframe requests to one
// publisher's track: a thousand viewers joining cost the encoder one
// keyframe, not a thousand.
const keyframeInterval = media.DefaultKeyframeInterval

// cacheSize is the NACK cache an up-track starts with, in packets, by kind;
// from then on it is sized from the track's rate and its viewers' round trip
// (source.resizeCache).
var cacheSize = [2]int{128, 512}

// publisher is a seated user's publish connection and its up-tracks.
type publisher struct {
	room    *Room
	user    string
	peer    *Peer
	sources [2]*source // guarded by room.mu; for simulcast video, the primary layer
	sim     *simulcast // simulcast video's layers, nil without; guarded by room.mu

	hooks      peerHooks
	layers     *coalescer // rtc.publisherLayers (quality.go); nil without a hook
	layersSent LayerSet   // what the publisher was last told; guarded by room.mu
	// declared are the simulcast layers its offer named (a=rid … send):
	// one a viewer wants may be asked for before its first packet came,
	// or after the publisher stopped it because nobody watched (quality.go).
	declared [numLayers]bool

	// skew is the publisher's wall clock minus ours as its sender reports
	// show it (nanoseconds), shared by its tracks so their slots' sender
	// reports keep the publisher's own audio/video alignment.
	skew    atomic.Int64
	skewSet atomic.Bool
}

// source is one up-track (a publisher's audio or video). Its reader
// goroutine is the only one that touches packets before they are queued.
type source struct {
	pub   *publisher
	kind  int
	codec media.Codec
	track *webrtc.TrackRemote
	in    rtpReader // track, or a fake in benchmarks

	// cache keeps the last packets for every viewer's NACKs: one copy per
	// up-track instead of one per viewer. The reader swaps in a resized one
	// (resizeCache); retransmitting writers load it.
	cache atomic.Pointer[media.Cache]
	// gop keeps the latest keyframe and what followed (video only), so a
	// new viewer or a switched slot starts at once.
	gop *media.GOPCache

	// Simulcast (simulcast.go): the layer it is (layerHigh for a single
	// encoding), its RID ("" for a single encoding) and its group (nil for
	// a single encoding). sim is guarded by room.mu.
	layer int
	rid   string
	sim   *simulcast

	seatIdx  int                     // the seat it is pointed at, -1 none; guarded by room.mu
	reported bool                    // SetPublishing(true) was applied; guarded by room.mu
	sinks    atomic.Pointer[[]*slot] // viewer slots it feeds, copy-on-write
	bitrate  atomic.Int64            // bit/s over the last second it sent anything (the allocator's cost)

	up upstream // keyframe requests, NACKs and reports toward the publisher

	frame   frameGather // the frame being queued before its viewers are woken (framewake.go)
	touched int         // touchSinks' count: the reader's
}

// Publish answers a publish offer from userID (rtc.publish, WHIP). The user
// must hold a seat (ErrPublishForbidden). A user has at most one publisher:
// a new one replaces the old. The publisher is closed by the server when the
// user loses the seat. ErrBadSDP / ErrUnsupportedCodec for bad offers.
func (r *Room) Publish(userID, offer string, opts ...PeerOption) (*Peer, string, error) {
	peer, answer, err := r.publish(userID, offer, hooksOf(opts))
	if err != nil {
		var se *seat.Error
		if errors.As(err, &se) && se.Reason != ErrRoomEnded.Reason {
			r.s.m.publishRejected.WithLabelValues(se.Reason).Inc()
		}
	}
	return peer, answer, err
}

func (r *Room) publish(userID, offer string, hooks peerHooks) (*Peer, string, error) {
	// The seat comes first (PROTOCOL.md §3: an unseated user learns it may not
	// publish, whatever it offered); both checks change nothing.
	if err := r.checkSeated(userID); err != nil {
		return nil, "", err
	}
	lines, err := checkOffer(offer, r.s.videoCodec)
	if err != nil {
		return nil, "", err
	}
	declared, err := checkSimulcast(offer)
	if err != nil {
		return nil, "", err
	}
	var count [2]int
	for _, l := range lines {
		if l.kind < 0 {
			return nil, "", fmt.Errorf("%w: %w", ErrBadSDP, ErrTooManyMLines)
		}
		if count[l.kind]++; count[l.kind] > 1 {
			return nil, "", fmt.Errorf("%w: %w", ErrBadSDP, ErrTooManyMLines)
		}
		if l.direction != "sendonly" && l.direction != "sendrecv" {
			return nil, "", fmt.Errorf("%w: publish m-line %q is %s, want sendonly or sendrecv", ErrBadSDP, l.mid, l.direction)
		}
	}

	peer, err := r.s.newPeer(r.s.pubAPI)
	if err != nil {
		return nil, "", err
	}
	pub := &publisher{room: r, user: userID, peer: peer, hooks: hooks, declared: declared,
		layersSent: LayerSet{High: true, Medium: true, Low: true}} // what a client starts sending
	if hooks.onLayers != nil {
		pub.layers = newCoalescer(peer, 0, pub.reportLayers)
	}
	peer.pc.OnTrack(pub.onTrack)
	if err := peer.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		_ = peer.Close()
		return nil, "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	answer, err := peer.answer(context.Background())
	if err != nil {
		_ = peer.Close()
		return nil, "", err
	}

	r.mu.Lock()
	if r.ended || r.seat.SeatOf(userID) == seat.NoSeat || !peer.setOnClose(pub.gone) {
		// The seat (or the connection) went while ICE was gathering.
		ended := r.ended
		r.mu.Unlock()
		_ = peer.Close()
		if ended {
			return nil, "", ErrRoomEnded
		}
		return nil, "", ErrPublishForbidden
	}
	if old := r.publishers[userID]; old != nil {
		old.stop()
	}
	r.publishers[userID] = pub
	r.reconcile()
	r.mu.Unlock()
	return peer, answer, nil
}

func (r *Room) checkSeated(userID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return ErrRoomEnded
	}
	if r.seat.SeatOf(userID) == seat.NoSeat {
		return ErrPublishForbidden
	}
	return nil
}

// stop gates a publisher that lost its seat or was replaced: it leaves the
// room's publishers (the caller removed it) and its connection is closed in
// the background. Called with room.mu held; the next reconcile re-points
// the seats it fed.
func (p *publisher) stop() {
	p.layers.stop()
	p.peer.closeAsync()
}

// disowned reports whether the seat controller cleared this publisher's
// publishing: a track it reported as arriving is no longer publishing in the
// controller's eyes. That is what Disconnect (and a resumed join) do: the
// connection's media must stop and the user publish again. Called with
// room.mu held.
func (p *publisher) disowned() bool {
	audio, video := p.room.seat.Publishing(p.user)
	for kind, src := range p.sources {
		if src == nil || !src.reported {
			continue
		}
		if (kind == audioIdx && !audio) || (kind == videoIdx && !video) {
			return true
		}
	}
	return false
}

// gone runs when the publish connection closes, whoever closed it: if it is
// still the user's publisher the seat stops showing its media.
func (p *publisher) gone() {
	r := p.room
	_ = r.Do(func(sr *seat.Room) ([]seat.Delivery, error) {
		if r.publishers[p.user] != p {
			return nil, nil
		}
		delete(r.publishers, p.user)
		p.layers.stop()
		p.sim = nil
		var ds []seat.Delivery
		for kind, src := range p.sources {
			if src == nil {
				continue
			}
			p.sources[kind] = nil
			d, err := sr.SetPublishing(p.user, kindOf(kind), false)
			if err != nil {
				return nil, err
			}
			ds = append(ds, d...)
		}
		return ds, nil
	})
}

// onTrack runs on Pion's goroutine for each up-track and stays there as the
// track's reader until the connection closes.
func (p *publisher) onTrack(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	if !p.peer.enter() {
		return
	}
	defer p.peer.exit()
	r := p.room
	kind := audioIdx
	want := media.CodecOpus
	if track.Kind() == webrtc.RTPCodecTypeVideo {
		kind, want = videoIdx, r.s.videoCodec
	}
	codec := media.CodecFromMime(track.Codec().MimeType)
	if codec != want {
		r.log.Warn("publisher track with a foreign codec ignored", "user", p.user, "codec", track.Codec().MimeType)
		return
	}
	src := newSource(p, kind, codec, track, track)
	layered := false
	if kind == videoIdx {
		src.gop = media.NewGOPCache(0, 0)
		if rid := track.RID(); rid != "" {
			l, ok := layerOfRID(rid)
			if !ok {
				r.log.Warn("publisher layer with a foreign RID ignored", "user", p.user, "rid", rid)
				return
			}
			src.layer, src.rid, layered = l, rid, true
		}
	}

	r.mu.Lock()
	ok := !r.ended && r.publishers[p.user] == p && p.addSource(src, layered)
	if ok {
		r.reconcile()
		p.layersChanged()
	}
	r.mu.Unlock()
	if !ok {
		return
	}
	p.peer.goOwned(func() { src.readRTCP(receiver) })
	src.read()
	src.up.stop()

	// The track ended: the seat stops showing it (unless another layer
	// of the same video carries on).
	_ = r.Do(func(sr *seat.Room) ([]seat.Delivery, error) {
		if !p.removeSource(src) || r.publishers[p.user] != p {
			return nil, nil
		}
		return sr.SetPublishing(p.user, kindOf(kind), false)
	})
}

// rtpReader is where an up-track's packets come from.
type rtpReader interface {
	Read(b []byte) (int, interceptor.Attributes, error)
}

func kindOf(i int) seat.Kind {
	if i == videoIdx {
		return seat.KindVideo
	}
	return seat.KindAudio
}

// read is the up-track's forwarding loop: read into a pooled packet, hand a
// reference to every viewer slot pointed at this source, release. It never
// blocks on a viewer.
func (src *source) read() {
	defer src.endFrames()
	reported := false
	for {
		pk := getPacket()
		n, _, err := src.in.Read(pk.buf[:])
		if err != nil {
			pk.release()
			return
		}
		if !pk.parse(n) {
			pk.release()
			continue
		}
		if !reported {
			reported = true
			src.reportPublishing()
		}
		src.ingest(pk, n)
		pk.release()
	}
}

// ingest is one parsed packet's way through the SFU: counted, cached for
// NACKs (and, video, for keyframe replays), offered to every slot. Called
// by the reader only.
func (src *source) ingest(pk *packet, n int) {
	src.pub.room.s.m.receivedPackets[src.kind].Inc()
	src.resizeCache(n)
	src.cache.Load().Put(pk.hdr.SequenceNumber, pk.buf[:n])
	if src.kind == videoIdx {
		pk.keyframe = media.IsKeyframe(src.codec, pk.payload)
		src.gop.Push(pk.hdr.SequenceNumber, pk.buf[:n], pk.keyframe)
	}
	wake := src.endsFrame(pk) // framewake.go
	sinks := *src.sinks.Load()
	for len(sinks) > 0 {
		chunk := sinks[:min(len(sinks), offerChunk)]
		sinks = sinks[len(chunk):]
		src.touchSinks(chunk)
		for _, sl := range chunk {
			sl.offer(src, pk, wake)
		}
	}
}

// offerChunk is how many slots ingest touches before offering to them:
// their slot and viewer cache lines, 2 each, fit the core's L1 with room.
const offerChunk = 32

// touchSinks reads what offer reads first of each slot (its binding) and
// of its viewer (up), with nothing between the loads. offer's queue lock
// is a locked instruction, a full barrier on x86, so offering straight
// away waits out each slot's and viewer's cache miss in turn; loaded here
// first, the misses overlap (issue 16: at 100 viewers they were most of
// the reader's time). Called by the reader only.
func (src *source) touchSinks(chunk []*slot) {
	n := 0
	for _, sl := range chunk {
		if sl.binding.Load() != nil && sl.viewer.up.Load() {
			n++
		}
	}
	src.touched = n // used, so the loads are not elided
}

// reportPublishing tells the seat controller the track arrives, so the seat
// shows microphone/camera "on" (if not muted or locked).
func (src *source) reportPublishing() {
	p, r := src.pub, src.pub.room
	_ = r.Do(func(sr *seat.Room) ([]seat.Delivery, error) {
		if r.publishers[p.user] != p || p.sources[src.kind] != src {
			return nil, nil
		}
		src.reported = true
		return sr.SetPublishing(p.user, kindOf(src.kind), true)
	})
}
