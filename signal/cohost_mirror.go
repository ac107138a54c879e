package signal

import (
	"fmt"
	"strconv"

	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/sfu"
)

// Co-host media across nodes (PROTOCOL.md §10 Media, §12). sfu feeds a
// room's co-host slots from another sfu.Room's seat 0; when that other
// room is hosted on another node, the room this node feeds them from is
// its cascade mirror of it (cascade.go) — the same one subscription a
// node's viewers of that room share. Two places need it:
//
//   - On a node whose room co-hosts with a room of another node, the
//     desk points the room's co-host slots at the mirror (mirrorOf).
//   - On an edge, a cascade's own mirror has co-host slots too: its
//     subscription at the host takes the host room's co-host slots, each
//     feeding a one-owner mirror "cascade:<room>#k" (openCohostMirrors),
//     pointed at once; the host re-points its slots, the edge follows
//     without knowing the connection.

// coMirror is a cascade held as a co-host peer: set up off the desk's
// lock, pointed at once it is ready.
type coMirror struct {
	k *cascade // nil until set up
}

// mirrorOf is the local room that carries roomID's owner, a room another
// node hosts: its cascade mirror, or nil (a silent slot) until the cascade
// is set up, when every room is pointed again. Called with d.mu held.
func (d *cohostDesk) mirrorOf(roomID string) *sfu.Room {
	cl := d.srv.cl
	if cl == nil || d.closed {
		return nil
	}
	if m := d.mirrors[roomID]; m != nil {
		if m.k == nil {
			return nil
		}
		return m.k.mirror
	}
	m := &coMirror{}
	d.mirrors[roomID] = m
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		k, err := d.setUpMirror(roomID)
		d.mu.Lock()
		defer d.mu.Unlock()
		if err != nil || d.closed || d.mirrors[roomID] != m {
			if err != nil {
				// Retried every tick (a takeover takes seconds): said once.
				if !d.mirrorFailing[roomID] {
					d.srv.log.Warn("cohost: cascade of a co-host room, retrying", "room", roomID, "err", err)
				}
				d.mirrorFailing[roomID] = true
				d.mirrorRetry = true // the watcher points again
			}
			if d.mirrors[roomID] == m {
				delete(d.mirrors, roomID)
			}
			if k != nil {
				d.releaseMirror(k)
			}
			return
		}
		m.k = k
		delete(d.mirrorFailing, roomID)
		d.pointAll()
	}()
	return nil
}

// setUpMirror finds roomID's host and acquires this node's cascade of it
// (at most cascadeSetup).
func (d *cohostDesk) setUpMirror(roomID string) (*cascade, error) {
	cl := d.srv.cl
	rt, err := d.route(roomID)
	if err != nil {
		return nil, err
	}
	if rt.Local {
		return nil, fmt.Errorf("room %s is hosted here now", roomID)
	}
	url, ok := cl.publicRTC(rt.Node)
	if !ok {
		return nil, fmt.Errorf("node %s has no public URL", rt.Node.ID)
	}
	return cl.cas.acquire(roomID, url)
}

// releaseMirror lets go of k off the lock (closing a cascade waits for its
// goroutines). Called with d.mu held.
func (d *cohostDesk) releaseMirror(k *cascade) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.srv.cl.cas.release(k)
	}()
}

// gcMirrors releases the mirrors no room's co-host slots use any more,
// after the slots were pointed away from them. Called with d.mu held.
func (d *cohostDesk) gcMirrors() {
	if len(d.mirrors)+len(d.mirrorFailing) == 0 {
		return
	}
	wanted := map[string]bool{}
	for r := range d.live {
		for _, m := range d.ctrl.Connection(r) {
			if d.remote[m.RoomID] != nil {
				wanted[m.RoomID] = true
			}
		}
	}
	for r := range d.homed {
		for _, p := range d.homedPeers(r) {
			wanted[p] = true
		}
	}
	for r := range d.mirrorFailing {
		if !wanted[r] {
			delete(d.mirrorFailing, r)
		}
	}
	for r, m := range d.mirrors {
		if wanted[r] && (m.k == nil || !m.k.stale()) {
			continue
		}
		delete(d.mirrors, r)
		if m.k != nil {
			if wanted[r] {
				d.mirrorRetry = true // its host went: a new cascade next tick
			}
			d.releaseMirror(m.k)
		}
	}
}

// pointAll points every room's co-host slots again (a mirror became
// ready, or one went). Called with d.mu held.
func (d *cohostDesk) pointAll() {
	for r := range d.live {
		if d.ctrl.Connection(r) != nil {
			d.pointSlots(r)
		}
	}
	for r := range d.homed {
		d.pointHomed(r)
	}
}

// openCohostMirrors opens, for each co-host slot of the host room's
// viewers (cohost index 1..MaxCohosts-1), a one-owner mirror fed by a
// loopback publisher, and points the cascade mirror's co-host slots at
// them, once.
func (k *cascade) openCohostMirrors(api *webrtc.API) error {
	srv := k.cs.c.srv
	audio, video := srv.cfg.SFU.Codecs()
	for j := 1; j < srv.cfg.MaxCohosts; j++ {
		owner := seat.User{UserID: "cascade-0", Name: "cascade", Role: seat.RoleOwner}
		peer, err := srv.cfg.SFU.OpenRoom(sfu.RoomConfig{Notifier: dropNotifier{}, Seat: seat.Config{
			RoomID: "cascade:" + k.room + "#" + strconv.Itoa(j), MaxSeats: seat.MinSeats, Mode: seat.ModeFree,
			Owner: owner, Clock: srv.cfg.Clock,
		}})
		if err != nil {
			return fmt.Errorf("cascade: co-host mirror: %w", err)
		}
		k.peers = append(k.peers, peer)
		err = peer.Do(func(r *seat.Room) ([]seat.Delivery, error) {
			if _, _, err := r.Join(owner); err != nil {
				return nil, err
			}
			if r.SeatOf(owner.UserID) != 0 {
				if _, _, err := r.Take(owner.UserID, 0); err != nil {
					return nil, err
				}
			}
			return nil, nil
		})
		if err != nil {
			return fmt.Errorf("cascade: seat the co-host mirror: %w", err)
		}
		lp, err := k.openLoop(api, peer, 0, audio, video)
		if err != nil {
			return err
		}
		k.coLoops = append(k.coLoops, lp)
	}
	k.mirror.SetCohosts(k.peers)
	return nil
}
