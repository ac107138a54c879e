package signal

import (
	"time"

	"github.com/seatsfu/seatsfu/internal/cluster"
	"github.com/seatsfu/seatsfu/seat/cohost"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// Nodes leaving (PROTOCOL.md §10 × §12): the desk's watcher, and what a
// node's leaving does to the relations it took part in.
//
// The room state in Redis does not carry the co-host link; the owner desk
// does. When the node of a room this controller holds leaves the registry,
// the desk waits for the room to be hosted again — §12 gives a takeover
// 5 s — and attaches it at its new node, which then gets the room's whole
// share: its view, its media, and the notifications a member who rejoined
// there needs to see the relation (cohost.changed, battle.started). A room
// not hosted again in time, or whose new node refuses it, ends
// (RoomEnded: room_ended, connection_ended). The owner desk's own node
// leaving ends the relation on the other side (orphan): the controller's
// state is in no store.

// moveWait bounds the wait for a remote room's takeover: §12's 5 s.
const moveWait = 5 * time.Second

// followMoves, on the watcher, re-attaches the remote rooms whose node
// left at the node now hosting them, and ends those not hosted again within
// moveWait. Called without mu.
func (d *cohostDesk) followMoves(live map[string]cluster.NodeInfo) {
	type lost struct {
		room string
		rr   *remoteRoom
	}
	now := time.Now()
	var todo []lost
	d.mu.Lock()
	var ds []cohost.Delivery
	for r, rr := range d.remote {
		if _, ok := live[rr.node.ID]; ok {
			continue
		}
		if rr.lostAt.IsZero() {
			rr.lostAt = now
		}
		if now.Sub(rr.lostAt) > moveWait {
			delete(d.remote, r)
			ds = append(ds, d.ctrl.RoomEnded(r)...)
			continue
		}
		todo = append(todo, lost{r, rr})
	}
	if len(ds) > 0 {
		d.deliver(ds)
	}
	d.mu.Unlock()

	for _, l := range todo {
		rt, err := d.route(l.room)
		if err != nil || rt.Node.ID == l.rr.node.ID {
			continue // not hosted again yet
		}
		if rt.Local {
			d.mu.Lock()
			if d.remote[l.room] == l.rr {
				d.cameHome(l.room)
			}
			d.mu.Unlock()
			continue
		}
		d.mu.Lock()
		d.seq++
		seq := d.seq
		d.mu.Unlock()
		err = d.call(rt.Node, cohostFrame{Kind: coAttach, From: d.srv.cl.node.ID(), Room: l.room, Seq: seq}, nil)
		d.mu.Lock()
		if d.remote[l.room] == l.rr && !d.closed {
			if err != nil {
				if refused(err) { // the relation ends
					delete(d.remote, l.room)
					d.deliver(d.ctrl.RoomEnded(l.room))
				} // else: not open there yet, or unreachable: next tick
			} else {
				d.remote[l.room] = &remoteRoom{node: rt.Node, seq: seq}
				d.announce(l.room)
				d.flush("")
			}
		}
		d.mu.Unlock()
	}
}

// refused: the new node keeps the room out of this relation (another
// controller holds it now).
func refused(err error) bool {
	return toSeatError(err).Reason == cohost.ErrCohostBusy.Reason
}

// announce queues roomID's whole share for its new node: its media, and
// what a member who rejoined there needs to see the relation. Called with
// mu held.
func (d *cohostDesk) announce(roomID string) {
	p := d.touch(roomID)
	p.Media = true
	if cn := d.ctrl.Connection(roomID); cn != nil {
		if frame, err := encodeNotification(proto.NoteCohostChanged, proto.CohostChanged{Rooms: wireRooms(cn)}); err == nil {
			p.Notes = append(p.Notes, cohostNote{To: noteEveryone, Frame: frame})
		}
	}
	if b := d.ctrl.Battle(roomID); b != nil {
		ev := proto.BattleStarted{BattleID: b.BattleID, Rooms: b.Rooms, EndsAt: b.EndsAt.UnixMilli()}
		if frame, err := encodeNotification(proto.NoteBattleStarted, ev); err == nil {
			p.Notes = append(p.Notes, cohostNote{To: noteEveryone, Frame: frame})
		}
	}
	received, _ := d.ctrl.RequestsOf(roomID)
	for _, q := range received {
		if frame, err := encodeNotification(proto.NoteCohostRequestReceived, proto.CohostRequestReceived{Request: wireCohostRequest(q)}); err == nil {
			p.Notes = append(p.Notes, cohostNote{To: noteOwner, Frame: frame})
		}
	}
}

// cameHome: a remote room was taken over by this node. It is a local room
// of the controller from now on. Called with mu held.
func (d *cohostDesk) cameHome(roomID string) {
	delete(d.remote, roomID)
	if _, err := d.resolve(roomID); err != nil {
		d.deliver(d.ctrl.RoomEnded(roomID))
		return
	}
	h := d.live[roomID]
	view := d.view(roomID)
	h.setCohostView(view)
	d.pointAll()
	if len(view.Cohost) > 0 {
		if frame, err := encodeNotification(proto.NoteCohostChanged, proto.CohostChanged{Rooms: view.Cohost}); err == nil {
			h.broadcastCohost(frame, view)
		}
	}
	if b := view.Battle; b != nil {
		if frame, err := encodeNotification(proto.NoteBattleStarted, proto.BattleStarted{BattleID: b.BattleID, Rooms: b.Rooms, EndsAt: b.EndsAt}); err == nil {
			h.broadcastCohost(frame, view)
		}
	}
}

// startWatch starts the sender and the watcher once. Called with mu held.
func (d *cohostDesk) startWatch() {
	if d.watching || d.closed || d.srv.cl == nil {
		return
	}
	d.watching = true
	d.wg.Add(2)
	go d.send()
	go d.watch()
}

// watch ends, every cluster tick, what a node that left the registry held,
// and retries mirrors that could not be set up.
func (d *cohostDesk) watch() {
	defer d.wg.Done()
	t := time.NewTicker(d.srv.cl.tick)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
		}
		d.mu.Lock()
		idle := len(d.remote)+len(d.homed) == 0
		d.mu.Unlock()
		var live map[string]cluster.NodeInfo
		if !idle {
			var ok bool
			if live, ok = d.liveNodes(); !ok {
				continue // the registry cannot be asked: nobody is taken for dead
			}
		}
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			return
		}
		if live != nil {
			d.endDead(live)
		}
		d.gcMirrors()
		if d.mirrorRetry {
			d.mirrorRetry = false
			d.pointAll()
		}
		d.mu.Unlock()
		if live != nil {
			d.followMoves(live) // cohost_takeover.go
		}
	}
}

// endDead ends the relations of this node's rooms whose controller's node
// is missing from live. Called with mu held.
func (d *cohostDesk) endDead(live map[string]cluster.NodeInfo) {
	for r, hm := range d.homed {
		if _, ok := live[hm.owner]; !ok {
			d.orphan(r)
		}
	}
}

// orphan ends the co-host state of a room whose controller's node is gone
// (PROTOCOL.md §10): its requests are cancelled (room_ended), its battle
// ends (connection_ended), its connection is empty. Called with mu held.
func (d *cohostDesk) orphan(roomID string) {
	delete(d.homed, roomID)
	h := d.hub(roomID)
	if h == nil {
		return
	}
	old := h.cohostView()
	empty := proto.CohostSnapshot{}
	h.room.SetCohosts(nil)
	h.setCohostView(empty)
	send := func(owner bool, method string, v any) {
		frame, err := encodeNotification(method, v)
		if err != nil {
			return
		}
		if owner {
			h.sendToOwner(frame, empty)
		} else {
			h.broadcastCohost(frame, empty)
		}
	}
	for _, q := range old.CohostRequests {
		send(true, proto.NoteCohostRequestCancelled, proto.CohostRequestCancelled{RequestID: q.RequestID, Reason: cohost.CancelledRoomEnded})
	}
	for _, q := range old.CohostSent {
		send(true, proto.NoteCohostRequestCancelled, proto.CohostRequestCancelled{RequestID: q.RequestID, Reason: cohost.CancelledRoomEnded})
	}
	if b := old.Battle; b != nil {
		send(false, proto.NoteBattleEnded, proto.BattleEnded{BattleID: b.BattleID, Scores: b.Scores, Winners: []string{}, Reason: cohost.BattleConnectionEnded})
	}
	if len(old.Cohost) > 0 {
		send(false, proto.NoteCohostChanged, proto.CohostChanged{Rooms: []proto.CohostRoom{}})
	}
}
