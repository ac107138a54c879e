package signal

import (
	"github.com/seatsfu/seatsfu/internal/cluster"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// A remote room's share of each outcome (cohost_cluster.go): gathered
// while the owner desk delivers, sent to the room's node after (a push, or
// with a forwarded call's answer), applied there in §10's order.

// touch is roomID's push being gathered (a remote room). Called with mu
// held.
func (d *cohostDesk) touch(roomID string) *cohostPush {
	p := d.pending[roomID]
	if p == nil {
		p = &cohostPush{Room: roomID}
		d.pending[roomID] = p
		d.pendingOrder = append(d.pendingOrder, roomID)
	}
	return p
}

// queueNote adds a notification for a remote room. Called with mu held.
func (d *cohostDesk) queueNote(roomID, to string, frame []byte) {
	if d.remote[roomID] == nil {
		return // ended meanwhile
	}
	p := d.touch(roomID)
	p.Notes = append(p.Notes, cohostNote{To: to, Frame: frame})
}

// flush sends the gathered pushes to their nodes, those for caller
// excepted, which it returns; then lets go of remote rooms the controller
// no longer knows. Called with mu held.
func (d *cohostDesk) flush(caller string) []cohostPush {
	var mine []cohostPush
	byNode := map[string][]cohostPush{}
	var order []string
	infos := map[string]cluster.NodeInfo{}
	for _, rr := range d.remote {
		infos[rr.node.ID] = rr.node
	}
	add := func(node string, p cohostPush) {
		if node == caller {
			mine = append(mine, p)
			return
		}
		if byNode[node] == nil {
			order = append(order, node)
		}
		byNode[node] = append(byNode[node], p)
	}
	d.ver++
	for _, r := range d.pendingOrder {
		rr := d.remote[r]
		if rr == nil {
			continue
		}
		p := *d.pending[r]
		p.Seq, p.Ver = rr.seq, d.ver
		p.View = d.view(r)
		add(rr.node.ID, p)
	}
	clear(d.pending)
	d.pendingOrder = d.pendingOrder[:0]
	for r, rr := range d.remote {
		if !d.known(r) {
			delete(d.remote, r)
			add(rr.node.ID, cohostPush{Room: r, Seq: rr.seq, Ver: d.ver, Detach: true, Media: true})
		}
	}
	for _, node := range order {
		d.enqueue(outMsg{node: node, info: infos[node], f: cohostFrame{Kind: coPush, From: d.srv.cl.node.ID(), Pushes: byNode[node]}})
	}
	d.gcMirrors()
	return mine
}

// enqueue hands m to the sender goroutine. Called with mu held.
func (d *cohostDesk) enqueue(m outMsg) {
	if d.srv.cl == nil || d.closed {
		return
	}
	d.startWatch()
	select {
	case d.outbox <- m:
	default:
		d.m.pushes.WithLabelValues("dropped").Inc()
		d.srv.log.Warn("cohost: the queue to other nodes is full, a push is lost", "node", m.node)
	}
}

// applyPush applies a room's share of an outcome from its controller on
// node from: media and view, and the notifications too when notes. Called
// with mu held.
func (d *cohostDesk) applyPush(from string, p cohostPush, notes bool) {
	hm, ok := d.homed[p.Room]
	if !ok || hm.owner != from {
		return
	}
	if p.Detach {
		if hm.seq == p.Seq {
			delete(d.homed, p.Room)
			if h := d.hub(p.Room); h != nil {
				h.setCohostView(proto.CohostSnapshot{})
				h.room.SetCohosts(nil)
			}
			d.gcMirrors()
		}
		return
	}
	h := d.hub(p.Room)
	if h == nil {
		return // ended: roomGone tells the controller
	}
	// A push sent before an answer may arrive after it: its view is
	// older than the one applied, and is left out; its notifications
	// still go.
	if p.Ver >= hm.ver {
		hm.ver = p.Ver
		d.homed[p.Room] = hm
		h.setCohostView(p.View)
		if p.Media {
			d.pointHomed(p.Room)
			d.gcMirrors()
		}
	}
	if notes {
		d.pushNotes(from, p)
	}
}

// pushNotes sends p's notifications to the room's members. Called with mu
// held.
func (d *cohostDesk) pushNotes(from string, p cohostPush) {
	if hm, ok := d.homed[p.Room]; !ok || hm.owner != from {
		return
	}
	h := d.hub(p.Room)
	if h == nil {
		return
	}
	view := h.cohostView() // the newest applied (applyPush)
	for _, n := range p.Notes {
		if n.To == noteOwner {
			h.sendToOwner(n.Frame, view)
		} else {
			h.broadcastCohost(n.Frame, view)
		}
	}
}

// send delivers the outbox in order until the desk closes.
func (d *cohostDesk) send() {
	defer d.wg.Done()
	for {
		select {
		case <-d.stop:
			return
		case m := <-d.outbox:
			node, ok := m.info, m.info.NodeAddr != ""
			if !ok {
				node, ok = d.nodeByID(m.node)
			}
			if !ok {
				d.m.pushes.WithLabelValues("failed").Inc()
				continue // gone: the watchers on both sides end what it held
			}
			if err := d.call(node, m.f, nil); err != nil {
				d.m.pushes.WithLabelValues("failed").Inc()
				d.srv.log.Warn("cohost: a push to another node failed", "node", m.node, "kind", m.f.Kind, "err", err)
				continue
			}
			d.m.pushes.WithLabelValues("sent").Inc()
		}
	}
}
