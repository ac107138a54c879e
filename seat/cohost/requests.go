package cohost

import (
	"sort"
	"time"
)

// Request is cohost.request: fromRoom's owner asks toRoom's owner to connect.
// timeout is in seconds (0 means DefaultTimeout). The edge has checked that
// both rooms are live and that the actor is fromRoom's owner.
func (c *Controller) Request(fromRoom string, owner Host, toRoom string, timeout int, extraInfo string) (string, []Delivery, error) {
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	switch {
	case fromRoom == "" || toRoom == "":
		return "", nil, newErr(ErrInvalidParams, "roomId is required")
	case timeout < MinTimeout || timeout > MaxTimeout:
		return "", nil, newErr(ErrInvalidParams, "timeout must be %d..%d seconds", MinTimeout, MaxTimeout)
	case len(extraInfo) > MaxExtraInfo:
		return "", nil, newErr(ErrInvalidParams, "extraInfo is over %d bytes", MaxExtraInfo)
	case fromRoom == toRoom:
		return "", nil, newErr(ErrCohostSelf, "room %s cannot co-host with itself", fromRoom)
	}
	from, to := c.rooms[fromRoom], c.rooms[toRoom]
	if from != nil && from.conn != nil {
		if to != nil && to.conn == from.conn {
			return "", nil, newErr(ErrAlreadyConnected, "room %s is already in this connection", toRoom)
		}
		if len(from.conn.rooms) >= c.cfg.MaxRooms {
			return "", nil, newErr(ErrCohostBusy, "the connection already has %d rooms", c.cfg.MaxRooms)
		}
	}
	if to != nil && to.conn != nil {
		return "", nil, newErr(ErrCohostBusy, "room %s is in another connection", toRoom)
	}
	if from != nil && to != nil && from.linkedTo(to) != nil {
		return "", nil, newErr(ErrRequestConflict, "a request between %s and %s is pending", fromRoom, toRoom)
	}

	from, to = c.room(fromRoom), c.room(toRoom)
	from.owner = owner
	q := &request{
		id: c.nextID("cohost"), n: c.lastID, from: from, to: to, fromHost: owner, extraInfo: extraInfo,
		expiresAt: c.now().Add(time.Duration(timeout) * time.Second),
	}
	q.dl = c.deadlines.add(&deadline{at: q.expiresAt, request: q})
	c.requests[q.id] = q
	from.reqs[q] = struct{}{}
	to.reqs[q] = struct{}{}
	return q.id, []Delivery{{To: Owner, Rooms: []string{toRoom}, Event: RequestReceived{Request: q.view()}}}, nil
}

// Cancel is cohost.cancel by the requesting room's owner.
func (c *Controller) Cancel(actorRoom, requestID string) ([]Delivery, error) {
	q := c.requests[requestID]
	if q == nil || q.from.id != actorRoom {
		return nil, newErr(ErrRequestNotFound, "no pending request %q sent by this room", requestID)
	}
	return c.endRequest(q, OutcomeCancelled), nil
}

// Reject is cohost.reject by the target room's owner.
func (c *Controller) Reject(actorRoom, requestID string) ([]Delivery, error) {
	q := c.requests[requestID]
	if q == nil || q.to.id != actorRoom {
		return nil, newErr(ErrRequestNotFound, "no pending request %q to this room", requestID)
	}
	return c.endRequest(q, OutcomeRejected), nil
}

// Accept is cohost.accept by the target room's owner: the two rooms join
// one connection (see the package doc). A full connection, or both rooms in
// different connections, is ErrCohostBusy and the request stays pending.
func (c *Controller) Accept(actorRoom string, owner Host, requestID string) ([]Delivery, error) {
	q := c.requests[requestID]
	if q == nil || q.to.id != actorRoom {
		return nil, newErr(ErrRequestNotFound, "no pending request %q to this room", requestID)
	}
	from, to := q.from, q.to
	var cn *connection
	switch {
	case from.conn != nil && to.conn != nil:
		// Cannot be the same connection: that request would have been
		// superseded when the second room joined.
		return nil, newErr(ErrCohostBusy, "both rooms are in other connections")
	case from.conn != nil:
		cn = from.conn
	case to.conn != nil:
		cn = to.conn
	}
	if cn != nil && len(cn.rooms) >= c.cfg.MaxRooms {
		return nil, newErr(ErrCohostBusy, "the connection already has %d rooms", c.cfg.MaxRooms)
	}

	to.owner = owner
	var started []Delivery
	if cn == nil {
		cn = &connection{rooms: []*room{from, to}}
		from.conn, to.conn = cn, cn
		c.conns[cn] = struct{}{}
		started = []Delivery{{To: Internal, Event: ConnectionStarted{Rooms: cn.ids()}}}
	} else {
		joiner := from
		if from.conn != nil {
			joiner = to
		}
		joiner.conn = cn
		cn.rooms = append(cn.rooms, joiner)
	}
	// Joined first, so ending the request forgets neither room.
	ds := c.endRequest(q, OutcomeAccepted)
	ds = append(ds, started...)
	ds = append(ds, c.changed(cn)...)
	return append(ds, c.supersede(cn)...), nil
}

// supersede ends the pending requests between rooms that are now in one
// connection: what they asked for happened another way.
func (c *Controller) supersede(cn *connection) []Delivery {
	var ds []Delivery
	for _, r := range cn.rooms {
		for _, q := range r.sortedRequests() {
			if q.from.conn == cn && q.to.conn == cn {
				ds = append(ds, c.endRequest(q, OutcomeSuperseded)...)
			}
		}
	}
	return ds
}

// endRequest ends q exactly once with outcome: its notifications to the
// side(s) that did not cause the end, then the Internal RequestEnded.
func (c *Controller) endRequest(q *request, outcome Outcome) []Delivery {
	if c.requests[q.id] != q {
		return nil
	}
	delete(c.requests, q.id)
	delete(q.from.reqs, q)
	delete(q.to.reqs, q)
	c.deadlines.remove(q.dl)
	q.dl = nil
	owner := func(r *room, ev Event) Delivery { return Delivery{To: Owner, Rooms: []string{r.id}, Event: ev} }
	var ds []Delivery
	switch outcome {
	case OutcomeAccepted, OutcomeRejected:
		ds = append(ds, owner(q.from, RequestResponded{RequestID: q.id, Accepted: outcome == OutcomeAccepted}))
	case OutcomeCancelled:
		ds = append(ds, owner(q.to, RequestCancelled{RequestID: q.id, Reason: CancelledByRequester}))
	case OutcomeTimeout, OutcomeSuperseded:
		reason := CancelledTimeout
		if outcome == OutcomeSuperseded {
			reason = CancelledByRequester
		}
		ds = append(ds,
			owner(q.from, RequestCancelled{RequestID: q.id, Reason: reason}),
			owner(q.to, RequestCancelled{RequestID: q.id, Reason: reason}))
	case OutcomeRoomEnded:
		// Only the side whose room lives on hears of it; RoomEnded calls
		// this for the ended room's requests, so that is "the other one".
		// Both rooms ending at once is two RoomEnded calls: the first
		// tells the second, whose members are gone anyway.
		other := q.to
		if c.isEnding(q.to) {
			other = q.from
		}
		ds = append(ds, owner(other, RequestCancelled{RequestID: q.id, Reason: CancelledRoomEnded}))
	}
	ds = append(ds, Delivery{To: Internal, Event: RequestEnded{Request: q.view(), Outcome: outcome}})
	c.forget(q.from)
	c.forget(q.to)
	return ds
}

func (q *request) view() Request {
	return Request{RequestID: q.id, FromRoom: q.from.id, FromHost: q.fromHost, ToRoom: q.to.id,
		ExtraInfo: q.extraInfo, ExpiresAt: q.expiresAt}
}

// linkedTo is the pending request between r and o, either way, or nil.
func (r *room) linkedTo(o *room) *request {
	for q := range r.reqs {
		if q.from == o || q.to == o {
			return q
		}
	}
	return nil
}

// sortedRequests lists r's pending requests oldest first, so everything
// that ends several does it in a repeatable order.
func (r *room) sortedRequests() []*request {
	out := make([]*request, 0, len(r.reqs))
	for q := range r.reqs {
		out = append(out, q)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].n < out[j].n })
	return out
}
