package signal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/seatsfu/seatsfu/internal/cluster"
	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/seat/cohost"
	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// Co-hosting across nodes (PROTOCOL.md §10 × §12). One controller decides
// for each relation: the desk of the node that hosts the room whose owner
// acted first (the requester, usually). Before it touches a room another
// node hosts it attaches it there ("attach": that node's desk records the
// room as homed here and refuses if its own controller already knows the
// room, or another node's does). From then on:
//
//   - every co-host method of the homed room's owner is forwarded here
//     ("op") and run by this controller; the answer carries that room's
//     share of the outcome (its new co-host view, notifications, whether
//     its media changed), which its node applies in §10's order: media,
//     snapshot, answer, notifications;
//   - every other outcome for the remote room goes to its node as a
//     "push", in order, on one sender goroutine (a bounded queue);
//   - the homed room's node feeds its co-host slots from its own cascade
//     of the other rooms (cohost_mirror.go), and reports the room's end
//     ("ended"); a battle's score is asked of every node until one runs
//     the battle ("score").
//
// When the controller no longer knows a remote room (no request,
// connection or battle) it lets it go ("detach", numbered so a late
// detach never undoes a newer attach). When a node leaves the registry,
// its remote rooms here follow their takeover or end (cohost_takeover.go),
// and rooms homed at it are told the connection, requests and battle are
// gone (orphan): the controller's state is in no store.

// Frame kinds of the co-host calls between desks.
const (
	coAttach = "attach"
	coOp     = "op"
	coPush   = "push"
	coEnded  = "ended"
	coScore  = "score"
)

// Push note audiences.
const (
	noteOwner    = "owner"
	noteEveryone = "everyone"
)

// outboxLen bounds the pushes waiting for their nodes: a link's queue
// (--link-queue), so a desk holds no more than one link would.
func outboxLen(c *Cluster) int {
	if c == nil {
		return 1 // one node: nothing is ever pushed
	}
	if c.LinkQueue > 0 {
		return c.LinkQueue
	}
	return DefaultLinkQueue
}

// remoteRoom is a room another node hosts that this controller knows.
type remoteRoom struct {
	node   cluster.NodeInfo
	seq    uint64
	lostAt time.Time // its node left the registry (cohost_takeover.go)
}

// homedAt names the node whose controller holds a local room's co-host
// state.
type homedAt struct {
	owner string
	seq   uint64
	ver   uint64 // the newest share applied (cohostPush.Ver)
}

type cohostNote struct {
	To    string          `json:"to"`
	Frame json.RawMessage `json:"frame"`
}

// cohostPush is one remote room's share of an outcome.
type cohostPush struct {
	Room   string               `json:"room"`
	Seq    uint64               `json:"seq,omitempty"`
	Ver    uint64               `json:"ver"` // the owner desk's flush count: shares travel two ways (pushes, answers) and may cross
	View   proto.CohostSnapshot `json:"view"`
	Notes  []cohostNote         `json:"notes,omitempty"`
	Media  bool                 `json:"media,omitempty"`
	Detach bool                 `json:"detach,omitempty"`
}

// cohostFrame is a call between desks, carried as a server API call on
// the node link (api_remote.go's "cohost" operation).
type cohostFrame struct {
	Kind   string       `json:"kind"`
	From   string       `json:"from"`
	Room   string       `json:"room,omitempty"`
	Seq    uint64       `json:"seq,omitempty"`
	Call   *cohostCall  `json:"call,omitempty"`
	Pushes []cohostPush `json:"pushes,omitempty"`
	Battle string       `json:"battle,omitempty"`
	Delta  int64        `json:"delta,omitempty"`
}

type cohostReply struct {
	Result   json.RawMessage `json:"result,omitempty"`
	Pushes   []cohostPush    `json:"pushes,omitempty"`
	Detached bool            `json:"detached,omitempty"`
}

type outMsg struct {
	node string
	info cluster.NodeInfo // when known; else looked up by node
	f    cohostFrame
}

// call sends f to node and decodes its answer into out.
func (d *cohostDesk) call(node cluster.NodeInfo, f cohostFrame, out any) error {
	return d.srv.cl.links.call(node, apiCall{Op: "cohost", Room: f.Room, Body: body(f)}, out)
}

// nodeByID is a live node's registry entry: as this node last saw the
// registry, else asked again (a node that just started is not in that
// list yet).
func (d *cohostDesk) nodeByID(id string) (cluster.NodeInfo, bool) {
	for _, n := range d.srv.cl.node.Nodes() {
		if n.ID == id {
			return n, true
		}
	}
	live, ok := d.liveNodes()
	n, found := live[id]
	return n, ok && found
}

// liveNodes asks the registry which nodes are live; false when it could
// not be asked (then nobody is taken for dead).
func (d *cohostDesk) liveNodes() (map[string]cluster.NodeInfo, bool) {
	ctx, cancel := context.WithTimeout(d.srv.ctx, d.srv.cfg.Limits.JoinTimeout)
	defer cancel()
	nodes, err := d.srv.cl.store.Nodes(ctx)
	if err != nil {
		return nil, false
	}
	out := make(map[string]cluster.NodeInfo, len(nodes))
	for _, n := range nodes {
		out[n.ID] = n
	}
	return out, true
}

// homeOf is the node whose controller holds roomID's co-host state, when
// that is another node.
func (d *cohostDesk) homeOf(roomID string) (string, bool) {
	if d.srv.cl == nil {
		return "", false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	hm, ok := d.homed[roomID]
	return hm.owner, ok
}

// forward runs call at the controller that holds the session's room and
// applies the room's share of the outcome around the answer.
func (d *cohostDesk) forward(s *session, id []byte, owner string, call cohostCall) (any, error) {
	node, ok := d.nodeByID(owner)
	if !ok {
		return nil, errNodeUnreachable
	}
	var rep cohostReply
	err := d.call(node, cohostFrame{Kind: coOp, From: d.srv.cl.node.ID(), Room: s.roomID, Call: &call}, &rep)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if rep.Detached {
		// That controller let the room go: this node decides again.
		if d.homed[s.roomID].owner == owner {
			delete(d.homed, s.roomID)
		}
		d.mu.Unlock()
		return d.run(s, id, call)
	}
	defer d.mu.Unlock()
	// Media and snapshots, the answer, the notifications; a detach (the
	// call ended the room's last relation there) last.
	for _, p := range rep.Pushes {
		if !p.Detach {
			d.applyPush(owner, p, false)
		}
	}
	var res any
	if len(rep.Result) > 0 {
		res = rep.Result
	}
	s.respond(id, res)
	for _, p := range rep.Pushes {
		d.pushNotes(owner, p)
	}
	for _, p := range rep.Pushes {
		if p.Detach {
			d.applyPush(owner, p, false)
		}
	}
	return answered{}, nil
}

// reach attaches target to this controller when another node hosts it
// (a round trip, bounded by the join timeout). Called without mu.
func (d *cohostDesk) reach(target, actor string) error {
	cl := d.srv.cl
	if cl == nil || target == "" || target == actor {
		return nil
	}
	d.mu.Lock()
	known := d.remote[target] != nil
	d.mu.Unlock()
	if known {
		return nil
	}
	rt, err := d.route(target)
	switch {
	case errors.Is(err, cluster.ErrUnavailable):
		return withMessage(errOverloaded, "cluster state store unavailable, try again")
	case err != nil || rt.Local:
		return nil // resolve answers: the room here, or room_not_found
	case rt.Node.NodeAddr == "":
		return withMessage(errOverloaded, "the room's node is not reachable yet, try again")
	}
	d.mu.Lock()
	d.seq++
	seq := d.seq
	d.mu.Unlock()
	if err := d.call(rt.Node, cohostFrame{Kind: coAttach, From: cl.node.ID(), Room: target, Seq: seq}, nil); err != nil {
		if errors.Is(err, errNodeUnreachable) {
			cl.node.Forget(target)
		}
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.remote[target] == nil {
		d.remote[target] = &remoteRoom{node: rt.Node, seq: seq}
		d.startWatch()
	}
	return nil
}

// route is the node hosting room: Node.Route, or, when that does not know
// the holder yet (a node that just started is not in this node's registry
// list), the lease and the registry asked again.
func (d *cohostDesk) route(room string) (cluster.Route, error) {
	cl := d.srv.cl
	ctx, cancel := context.WithTimeout(d.srv.ctx, d.srv.cfg.Limits.JoinTimeout)
	defer cancel()
	rt, err := cl.node.Route(ctx, room)
	if !errors.Is(err, cluster.ErrNoHolder) {
		return rt, err
	}
	l, err := cl.store.Holder(ctx, room)
	if err != nil {
		return cluster.Route{}, err
	}
	live, ok := d.liveNodes()
	if n, found := live[l.Node]; ok && found && l.Node != cl.node.ID() {
		return cluster.Route{Node: n, Lease: l}, nil
	}
	return cluster.Route{}, cluster.ErrNoHolder
}

// serveFrame is another desk's call (api_remote.go), on its own goroutine.
func (d *cohostDesk) serveFrame(raw json.RawMessage) (any, error) {
	var f cohostFrame
	if json.Unmarshal(raw, &f) != nil || f.From == "" {
		return nil, invalidParams("forwarded co-host call: not one")
	}
	switch f.Kind {
	case coAttach:
		return nil, d.attach(f)
	case coOp:
		return d.serveOp(f)
	case coPush:
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, p := range f.Pushes {
			d.applyPush(f.From, p, true)
		}
		return nil, nil
	case coEnded:
		d.mu.Lock()
		defer d.mu.Unlock()
		if rr := d.remote[f.Room]; rr != nil && rr.node.ID == f.From && !d.closed {
			delete(d.remote, f.Room)
			d.deliver(d.ctrl.RoomEnded(f.Room))
		}
		return nil, nil
	case coScore:
		err := d.addScoreHere(f.Battle, f.Room, f.Delta)
		switch {
		case errors.Is(err, ErrBattleNotFound):
			return nil, &seat.Error{Reason: cohost.ErrBattleNotFound.Reason, Message: err.Error()}
		case errors.Is(err, ErrRoomNotInBattle):
			return nil, &seat.Error{Reason: cohost.ErrRoomNotInBattle.Reason, Message: err.Error()}
		}
		return nil, err
	}
	return nil, invalidParams("forwarded co-host call: unknown kind " + truncate(f.Kind, 20))
}

// attach records f.Room, a room of this node, as homed at f.From's
// controller; refused when another controller (this node's included)
// already knows it.
func (d *cohostDesk) attach(f cohostFrame) error {
	d.srv.mu.Lock()
	h := d.srv.hubs[f.Room]
	d.srv.mu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || h == nil || h.room == nil || h.ended() {
		return withMessage(seat.ErrRoomNotFound, "room "+truncate(f.Room, 128)+" is not live")
	}
	if hm, ok := d.homed[f.Room]; ok && hm.owner != f.From {
		return &seat.Error{Reason: cohost.ErrCohostBusy.Reason, Message: "the room co-hosts through another node"}
	}
	if d.known(f.Room) {
		return &seat.Error{Reason: cohost.ErrCohostBusy.Reason, Message: "the room co-hosts on its own node"}
	}
	d.homed[f.Room] = homedAt{owner: f.From, seq: f.Seq}
	d.startWatch()
	return nil
}

// known reports whether this controller has a request, connection or
// battle of roomID. Called with mu held.
func (d *cohostDesk) known(roomID string) bool {
	if d.ctrl.Connection(roomID) != nil || d.ctrl.Battle(roomID) != nil {
		return true
	}
	received, sent := d.ctrl.RequestsOf(roomID)
	return len(received)+len(sent) > 0
}

// serveOp runs a homed room's call on this controller; the room's share of
// the outcome goes back with the answer.
func (d *cohostDesk) serveOp(f cohostFrame) (any, error) {
	if f.Call == nil {
		return nil, invalidParams("forwarded co-host call: no call")
	}
	op, target, err := cohostOpFor(*f.Call)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	rr := d.remote[f.Room]
	d.mu.Unlock()
	if rr == nil || rr.node.ID != f.From {
		return cohostReply{Detached: true}, nil
	}
	if err := d.reach(target, f.Room); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, withMessage(seat.ErrRoomNotFound, "the server is shutting down")
	}
	if d.remote[f.Room] == nil {
		return cohostReply{Detached: true}, nil
	}
	res, ds, err := d.exec(f.Room, target, op)
	if err != nil {
		return nil, err
	}
	d.applyMedia(ds)
	d.refreshViews(ds, f.Room)
	d.notify(ds)
	rep := cohostReply{Pushes: d.flush(f.From)}
	if res != nil {
		rep.Result = body(res)
	}
	return rep, nil
}

// hub is roomID's live hub on this node, or nil.
func (d *cohostDesk) hub(roomID string) *roomHub {
	d.srv.mu.Lock()
	h := d.srv.hubs[roomID]
	d.srv.mu.Unlock()
	if h == nil || h.room == nil || h.ended() {
		return nil
	}
	return h
}

// homedPeers are the other rooms of a homed room's connection, as its view
// shows them. Called with mu held.
func (d *cohostDesk) homedPeers(roomID string) []string {
	h := d.hub(roomID)
	if h == nil {
		return nil
	}
	var out []string
	for _, r := range h.cohostView().Cohost {
		if r.RoomID != roomID {
			out = append(out, r.RoomID)
		}
	}
	return out
}

// pointHomed points a homed room's co-host slots at its connection's
// other rooms: this node's own, or its cascade of another node's. Called
// with mu held.
func (d *cohostDesk) pointHomed(roomID string) {
	h := d.hub(roomID)
	if h == nil {
		return
	}
	var peers []*sfu.Room
	for _, r := range d.homedPeers(roomID) {
		if o := d.hub(r); o != nil {
			peers = append(peers, o.room)
		} else {
			peers = append(peers, d.mirrorOf(r))
		}
	}
	h.room.SetCohosts(peers)
}

// homeGone tells the controller holding h's co-host state that its room
// ended; it reports whether another node holds it. Called with mu held.
func (d *cohostDesk) homeGone(h *roomHub) bool {
	hm, ok := d.homed[h.id]
	if !ok {
		return false
	}
	delete(d.homed, h.id)
	d.enqueue(outMsg{node: hm.owner, f: cohostFrame{Kind: coEnded, From: d.srv.cl.node.ID(), Room: h.id}})
	d.gcMirrors()
	return true
}

// addScoreElsewhere asks every other live node to score the battle until
// one runs it (battle ids name no node; a cluster has few nodes).
func (d *cohostDesk) addScoreElsewhere(battleID, roomID string, delta int64) error {
	cl := d.srv.cl
	var last error = fmt.Errorf("%w: %q", ErrBattleNotFound, battleID)
	for _, n := range cl.node.Nodes() {
		if n.ID == cl.node.ID() || n.NodeAddr == "" {
			continue
		}
		err := d.call(n, cohostFrame{Kind: coScore, From: cl.node.ID(), Room: roomID, Battle: battleID, Delta: delta}, nil)
		var se *seat.Error
		switch {
		case err == nil:
			return nil
		case errors.As(err, &se) && se.Reason == cohost.ErrBattleNotFound.Reason:
			continue
		case errors.As(err, &se) && se.Reason == cohost.ErrRoomNotInBattle.Reason:
			return fmt.Errorf("%w: room %q, battle %q", ErrRoomNotInBattle, roomID, battleID)
		default:
			last = err
		}
	}
	return last
}
