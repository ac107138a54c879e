package signal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/seatsfu/seatsfu/internal/cluster"
	"github.com/seatsfu/seatsfu/internal/nodelink"
	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/signal/api"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// The server API on a cluster (PROTOCOL.md §11, §12): /v1/api on any node
// serves every room. A call for a room another node hosts is forwarded to
// that node over the link and run there by the same code as on one node
// (serviceRooms), so its answer and its errors are the ones a single node
// gives; a list asks every live node for its page and merges them.

// clusterRooms is api.Rooms on a cluster node.
type clusterRooms struct {
	local serviceRooms
	c     *clusterEdge
}

var _ api.Rooms = clusterRooms{}

// apiRooms is the server API's rooms: this node's, or the cluster's.
func (s *Server) apiRooms() api.Rooms {
	if s.cl == nil {
		return serviceRooms{s}
	}
	return clusterRooms{local: serviceRooms{s}, c: s.cl}
}

// maxAPICalls bounds the forwarded calls one node runs at once for other
// nodes; beyond it a call is answered overloaded at once.
const maxAPICalls = 64

// errNodeUnreachable: the room's host could not be asked.
var errNodeUnreachable = withMessage(errOverloaded, "the room's node is unreachable, try again")

// apiCall is a forwarded call: the operation and its arguments.
type apiCall struct {
	Op     string          `json:"op"`
	Room   string          `json:"room,omitempty"`
	User   string          `json:"user,omitempty"`
	Cursor string          `json:"cursor,omitempty"`
	Limit  int             `json:"limit,omitempty"`
	Index  int             `json:"index,omitempty"`
	Flag   bool            `json:"flag,omitempty"` // ban, muted
	Body   json.RawMessage `json:"body,omitempty"` // update, role, lock, message
}

// apiOutcome is the host's answer: a result, or a refusal as seat.Error.
type apiOutcome struct {
	Result  json.RawMessage `json:"result,omitempty"`
	Reason  string          `json:"reason,omitempty"`
	Message string          `json:"message,omitempty"`
}

// host is the node hosting room when that is another node.
func (x clusterRooms) host(room string) (cluster.NodeInfo, bool) {
	ctx, cancel := context.WithTimeout(x.c.srv.ctx, x.c.srv.cfg.Limits.JoinTimeout)
	defer cancel()
	rt, err := x.c.node.Route(ctx, room)
	if err != nil || rt.Local || rt.Node.NodeAddr == "" {
		return cluster.NodeInfo{}, false
	}
	return rt.Node, true
}

// forward runs call on room's host when another node hosts it; ok false:
// serve it here.
func (x clusterRooms) forward(call apiCall, out any) (ok bool, err error) {
	node, remote := x.host(call.Room)
	if !remote {
		return false, nil
	}
	err = x.c.links.call(node, call, out)
	if errors.Is(err, errNodeUnreachable) {
		x.c.node.Forget(call.Room)
	}
	return true, err
}

func body(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func (x clusterRooms) List(cursor string, limit int) (proto.APIRoomList, error) {
	page, err := x.local.List(cursor, limit)
	if err != nil {
		return page, err
	}
	rooms, more := page.Rooms, page.NextCursor != ""
	for _, n := range x.c.node.Nodes() {
		if n.ID == x.c.node.ID() || n.NodeAddr == "" {
			continue
		}
		var p proto.APIRoomList
		if err := x.c.links.call(n, apiCall{Op: "list", Cursor: cursor, Limit: limit}, &p); err != nil {
			return proto.APIRoomList{}, err // half a list would look whole
		}
		rooms = append(rooms, p.Rooms...)
		more = more || p.NextCursor != ""
	}
	slices.SortFunc(rooms, func(a, b proto.APIRoom) int {
		switch {
		case a.RoomID < b.RoomID:
			return -1
		case a.RoomID > b.RoomID:
			return 1
		}
		return 0
	})
	// A room caught in a hand-over may be listed by two nodes.
	rooms = slices.CompactFunc(rooms, func(a, b proto.APIRoom) bool { return a.RoomID == b.RoomID })
	out := proto.APIRoomList{Rooms: rooms}
	if len(rooms) > limit {
		out.Rooms, more = rooms[:limit], true
	}
	if more && len(out.Rooms) > 0 {
		out.NextCursor = out.Rooms[len(out.Rooms)-1].RoomID
	}
	return out, nil
}

func (x clusterRooms) Get(id string) (proto.APIRoom, error) {
	var out proto.APIRoom
	if ok, err := x.forward(apiCall{Op: "get", Room: id}, &out); ok {
		return out, err
	}
	return x.local.Get(id)
}

func (x clusterRooms) Update(id string, p proto.RoomUpdateParams) error {
	if ok, err := x.forward(apiCall{Op: "update", Room: id, Body: body(p)}, nil); ok {
		return err
	}
	return x.local.Update(id, p)
}

func (x clusterRooms) End(id string) error {
	if ok, err := x.forward(apiCall{Op: "end", Room: id}, nil); ok {
		return err
	}
	return x.local.End(id)
}

func (x clusterRooms) Members(id, cursor string, limit int) (proto.APIMemberList, error) {
	var out proto.APIMemberList
	if ok, err := x.forward(apiCall{Op: "members", Room: id, Cursor: cursor, Limit: limit}, &out); ok {
		return out, err
	}
	return x.local.Members(id, cursor, limit)
}

func (x clusterRooms) KickOut(id, user string, ban bool) error {
	if ok, err := x.forward(apiCall{Op: "kickOut", Room: id, User: user, Flag: ban}, nil); ok {
		return err
	}
	return x.local.KickOut(id, user, ban)
}

func (x clusterRooms) Unban(id, user string) (bool, error) {
	var lifted bool
	if ok, err := x.forward(apiCall{Op: "unban", Room: id, User: user}, &lifted); ok {
		return lifted, err
	}
	return x.local.Unban(id, user)
}

func (x clusterRooms) SetRole(id, user string, role proto.Role) error {
	if ok, err := x.forward(apiCall{Op: "setRole", Room: id, User: user, Body: body(role)}, nil); ok {
		return err
	}
	return x.local.SetRole(id, user, role)
}

func (x clusterRooms) SetChatMuted(id, user string, muted bool) error {
	if ok, err := x.forward(apiCall{Op: "setChatMuted", Room: id, User: user, Flag: muted}, nil); ok {
		return err
	}
	return x.local.SetChatMuted(id, user, muted)
}

func (x clusterRooms) LockSeat(id string, index int, p proto.APISeatLock) error {
	if ok, err := x.forward(apiCall{Op: "lockSeat", Room: id, Index: index, Body: body(p)}, nil); ok {
		return err
	}
	return x.local.LockSeat(id, index, p)
}

func (x clusterRooms) KickSeat(id string, index int) error {
	if ok, err := x.forward(apiCall{Op: "kickSeat", Room: id, Index: index}, nil); ok {
		return err
	}
	return x.local.KickSeat(id, index)
}

func (x clusterRooms) SendMessage(id string, m proto.APIMessage) error {
	if ok, err := x.forward(apiCall{Op: "sendMessage", Room: id, Body: body(m)}, nil); ok {
		return err
	}
	return x.local.SendMessage(id, m)
}

// run is the host's side: one forwarded call on this node's own rooms
// (never forwarded again: no loops).
func (x serviceRooms) run(call apiCall) (any, error) {
	decode := func(v any) error {
		if json.Unmarshal(call.Body, v) != nil {
			return invalidParams("forwarded call: bad body")
		}
		return nil
	}
	switch call.Op {
	case "list":
		return x.List(call.Cursor, call.Limit)
	case "get":
		return x.Get(call.Room)
	case "update":
		var p proto.RoomUpdateParams
		if err := decode(&p); err != nil {
			return nil, err
		}
		return nil, x.Update(call.Room, p)
	case "end":
		return nil, x.End(call.Room)
	case "members":
		return x.Members(call.Room, call.Cursor, call.Limit)
	case "kickOut":
		return nil, x.KickOut(call.Room, call.User, call.Flag)
	case "unban":
		return x.Unban(call.Room, call.User)
	case "setRole":
		var role proto.Role
		if err := decode(&role); err != nil {
			return nil, err
		}
		return nil, x.SetRole(call.Room, call.User, role)
	case "setChatMuted":
		return nil, x.SetChatMuted(call.Room, call.User, call.Flag)
	case "lockSeat":
		var p proto.APISeatLock
		if err := decode(&p); err != nil {
			return nil, err
		}
		return nil, x.LockSeat(call.Room, call.Index, p)
	case "kickSeat":
		return nil, x.KickSeat(call.Room, call.Index)
	case "sendMessage":
		var m proto.APIMessage
		if err := decode(&m); err != nil {
			return nil, err
		}
		return nil, x.SendMessage(call.Room, m)
	case "cohost": // another node's co-host desk (cohost_cluster.go)
		return x.s.cohost.serveFrame(call.Body)
	}
	return nil, invalidParams(fmt.Sprintf("forwarded call: unknown operation %q", truncate(call.Op, 40)))
}

// call forwards one call to node and waits for its outcome (at most the
// join timeout); out receives the result.
func (lk *links) call(node cluster.NodeInfo, call apiCall, out any) error {
	ctx, cancel := context.WithTimeout(lk.ctx, lk.c.srv.cfg.Limits.JoinTimeout)
	defer cancel()
	l, err := lk.get(ctx, node)
	if err != nil {
		return errNodeUnreachable
	}
	id := newSessionID()
	reply := make(chan nodelink.Frame, 1)
	lk.mu.Lock()
	lk.calls[id] = reply
	lk.mu.Unlock()
	defer func() {
		lk.mu.Lock()
		delete(lk.calls, id)
		lk.mu.Unlock()
	}()
	if l.Send(nodelink.Frame{Session: id, Kind: frameAPI, Payload: body(call)}) != nil {
		return errNodeUnreachable
	}
	var f nodelink.Frame
	select {
	case f = <-reply:
	case <-l.Done():
		return errNodeUnreachable
	case <-ctx.Done():
		return errNodeUnreachable
	}
	var o apiOutcome
	if err := json.Unmarshal(f.Payload, &o); err != nil {
		return fmt.Errorf("signal: a forwarded call's answer: %w", err)
	}
	if o.Reason != "" {
		return &seat.Error{Reason: o.Reason, Message: o.Message}
	}
	if out != nil && len(o.Result) > 0 {
		if err := json.Unmarshal(o.Result, out); err != nil {
			return fmt.Errorf("signal: a forwarded call's result: %w", err)
		}
	}
	return nil
}

// apiReply hands an outcome to the call waiting for it.
func (lk *links) apiReply(f nodelink.Frame) {
	lk.mu.Lock()
	ch := lk.calls[f.Session]
	lk.mu.Unlock()
	if ch != nil {
		select {
		case ch <- f:
		default:
		}
	}
}

// serveAPI runs a call another node forwarded, on its own goroutine (the
// link's reader must not wait for a room's lock); at most maxAPICalls at
// once.
func (lk *links) serveAPI(l *nodelink.Link, f nodelink.Frame) {
	answer := func(o apiOutcome) {
		_ = l.Send(nodelink.Frame{Session: f.Session, Kind: frameAPIReply, Payload: body(o)})
	}
	var call apiCall
	if json.Unmarshal(f.Payload, &call) != nil {
		answer(apiOutcome{Reason: string(proto.ReasonInvalidParams), Message: "forwarded call: not one"})
		return
	}
	select {
	case lk.apiSlots <- struct{}{}:
	default:
		answer(apiOutcome{Reason: errOverloaded.Reason, Message: "too many forwarded calls, try again"})
		return
	}
	lk.mu.Lock()
	if lk.closed {
		lk.mu.Unlock()
		<-lk.apiSlots
		answer(apiOutcome{Reason: string(proto.ReasonRoomNotFound), Message: "the server is shutting down"})
		return
	}
	lk.wg.Add(1)
	lk.mu.Unlock()
	go func() {
		defer lk.wg.Done()
		defer func() { <-lk.apiSlots }()
		res, err := serviceRooms{lk.c.srv}.run(call)
		var o apiOutcome
		var se *seat.Error
		switch {
		case errors.As(err, &se):
			o.Reason, o.Message = se.Reason, se.Message
		case err != nil:
			o.Reason, o.Message = string(proto.ReasonInternal), "internal error"
			lk.c.srv.log.Error("cluster: a forwarded API call failed", "op", call.Op, "err", err)
		case res != nil:
			o.Result = body(res)
		}
		answer(o)
	}()
}
