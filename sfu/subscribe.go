package sfu

import (
	"context"
	"fmt"

	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/seat"
)

// Subscribe answers a subscribe offer (rtc.subscribe, WHEP). The k-th audio
// and k-th video m-lines carry seat firstSeat+k; the rest are inactive.
// userID's own media is never sent back to it.
func (r *Room) Subscribe(userID, offer string, firstSeat int, opts ...PeerOption) (*Peer, string, []Slot, error) {
	if firstSeat < 0 || firstSeat >= r.maxSeats {
		return nil, "", nil, seat.ErrSeatIndexInvalid
	}
	lines, err := checkOffer(offer, r.s.videoCodec)
	if err != nil {
		return nil, "", nil, err
	}
	for _, l := range lines {
		if l.kind >= 0 && l.direction != "recvonly" && l.direction != "sendrecv" {
			return nil, "", nil, fmt.Errorf("%w: subscribe m-line %q is %s, want recvonly", ErrBadSDP, l.mid, l.direction)
		}
	}
	r.mu.Lock()
	ended, banned := r.ended, r.seat.Banned(userID)
	r.mu.Unlock()
	if ended {
		return nil, "", nil, ErrRoomEnded
	}
	if banned {
		return nil, "", nil, seat.ErrBanned
	}
	if err := r.s.admitSubscriber(); err != nil {
		return nil, "", nil, err // over the egress budget: the joined viewers keep theirs
	}

	v := newViewer(r, userID, nil, r.s.cfg.ViewerQueue)
	if r.s.own != nil {
		return r.subscribeOwnPeer(v, userID, offer, firstSeat, opts)
	}
	peer, err := r.s.newPeer(r.s.subAPI.forViewer(v))
	if err != nil {
		r.s.releaseSubscriber()
		return nil, "", nil, err
	}
	v.peer = peer
	v.gate() // join.go: no media until the connection is up
	v.eg = r.s.egress.newViewer()
	var dt *webrtc.DTLSTransport
	if v.eg != nil {
		dt = peer.pc.SCTP().Transport() // the connection's one (bundled) DTLS transport
		dt.ICETransport().OnSelectedCandidatePairChange(v.eg.pairChanged)
	}
	peer.onConnected = func() {
		if v.eg != nil {
			if err := v.eg.connected(peer.pc, dt); err != nil {
				r.s.log.Warn("direct egress unavailable, media goes through Pion", "user", userID, "err", err)
			}
		}
		v.connected() // join.go: its writer starts the slots from the cache
	}
	v.hooks = hooksOf(opts)
	if v.hooks.onQuality != nil {
		v.quality = newCoalescer(peer, qualityEvery, v.reportQuality)
	}
	v.alloc = newCoalescer(peer, allocEvery, v.allocate)
	peer.viewer = v
	fail := func(err error) (*Peer, string, []Slot, error) {
		r.s.releaseSubscriber()
		_ = peer.Close()
		return nil, "", nil, err
	}
	if err := peer.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fail(fmt.Errorf("%w: %v", ErrBadSDP, err))
	}
	var count [2]int
	var trs []*webrtc.RTPTransceiver
	for _, tr := range peer.pc.GetTransceivers() {
		kind := audioIdx
		if tr.Kind() == webrtc.RTPCodecTypeVideo {
			kind = videoIdx
		}
		idx := firstSeat + count[kind]
		count[kind]++
		co := r.cohostSlotOf(idx)
		if co < 0 {
			// Beyond the last co-host slot: Pion would answer a track-less
			// transceiver sendonly; stopping it answers inactive (§5, §10).
			if err := tr.Stop(); err != nil {
				return fail(fmt.Errorf("%w: %v", ErrBadSDP, err))
			}
			continue
		}
		track := r.s.newSlotTrack(kind, idx)
		if co > 0 {
			idx, track = -1, r.s.newCohostSlotTrack(kind, co)
		}
		sl := newSlot(v, kind, idx, track)
		sl.cohost = co
		sl.track.sock, sl.track.eg, sl.track.link = r.s.egress, v.eg, &v.link
		if sl.sender, err = peer.pc.AddTrack(sl.track); err != nil {
			return fail(fmt.Errorf("%w: %v", ErrBadSDP, err))
		}
		if tr.Sender() != sl.sender {
			return fail(fmt.Errorf("%w: m-line order could not be kept", ErrBadSDP))
		}
		v.slots = append(v.slots, sl)
		trs = append(trs, tr)
	}
	answer, err := peer.answer(context.Background())
	if err != nil {
		return fail(err)
	}
	slots := make([]Slot, len(v.slots))
	for i, sl := range v.slots {
		sl.mid = trs[i].Mid()
		slots[i] = Slot{Mid: sl.mid, Kind: kindNames[sl.kind], SeatIndex: sl.seatIdx, CohostIndex: sl.cohost}
	}

	if err := r.attachViewer(v, peer); err != nil {
		return fail(err)
	}

	// The viewer costs no goroutine of ours at rest: the SFU's writers
	// serve its queue (writers.go), Pion's SRTCP session reads its RTCP
	// (feedback.go).
	return peer, answer, slots, nil
}

// attachViewer puts a subscribed viewer's slots on their seats (and its
// co-host slots on the other rooms); ErrRoomEnded when the room or the
// peer ended meanwhile.
func (r *Room) attachViewer(v *viewer, peer *Peer) error {
	r.mu.Lock()
	if r.ended || !peer.setOnClose(func() { r.detachCohost(v); r.detachViewer(v) }) {
		r.mu.Unlock()
		return ErrRoomEnded
	}
	r.viewers[v] = struct{}{} // counted in s.ov.viewers by admitSubscriber
	for _, sl := range v.slots {
		if sl.cohost > 0 {
			continue // attachCohost, below
		}
		sm := &r.seats[sl.seatIdx]
		sm.slots[sl.kind] = append(append([]*slot(nil), sm.slots[sl.kind]...), sl)
		sl.repoint(sm.src[sl.kind])
		if src := sm.src[sl.kind]; src != nil {
			r.refreshSinks(src)
		}
	}
	r.mu.Unlock()
	r.attachCohost(v)
	return nil
}

func (r *Room) detachViewer(v *viewer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.detachViewerLocked(v)
}

// detachViewerLocked takes a viewer's slots off their seats and stops its
// writer. Called with room.mu held.
func (r *Room) detachViewerLocked(v *viewer) {
	if _, ok := r.viewers[v]; !ok {
		return
	}
	delete(r.viewers, v)
	r.s.releaseSubscriber()
	r.s.viewerGone(v)
	for _, sl := range v.slots {
		if sl.cohost > 0 {
			continue // detachCohost, when its connection closes; v.stop gates it now
		}
		sm := &r.seats[sl.seatIdx]
		kept := make([]*slot, 0, len(sm.slots[sl.kind]))
		for _, o := range sm.slots[sl.kind] {
			if o != sl {
				kept = append(kept, o)
			}
		}
		sm.slots[sl.kind] = kept
		if src := sm.src[sl.kind]; src != nil {
			r.refreshSinks(src)
		}
		sl.repoint(nil)
	}
	v.stop()
}
