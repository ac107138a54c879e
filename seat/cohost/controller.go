package cohost

import (
	"fmt"
	"strconv"
	"time"
)

// Controller holds every co-host request, connection and battle of a node.
type Controller struct {
	cfg       Config
	rooms     map[string]*room // rooms with a connection or a pending request
	requests  map[string]*request
	battles   map[string]*battle
	conns     map[*connection]struct{}
	deadlines deadlines
	lastID    uint64
	ending    *room // the room RoomEnded is taking out, while it does
}

// room is what the controller knows of a room while it is involved.
type room struct {
	id    string
	owner Host // known once the room's owner acted
	conn  *connection
	reqs  map[*request]struct{} // pending requests it sent or received
}

// connection is 2..MaxRooms rooms, in the order they joined.
type connection struct {
	rooms  []*room
	battle *battle
}

type request struct {
	id        string
	n         uint64 // creation order
	from, to  *room
	fromHost  Host
	extraInfo string
	expiresAt time.Time
	dl        *deadline
}

type battle struct {
	id      string
	conn    *connection
	rooms   []string
	endsAt  time.Time
	scores  map[string]int64
	end     *deadline
	flush   *deadline // the pending battle.scores, if one is waiting
	flushed time.Time // when the last battle.scores went out
	dirty   bool      // scores changed since the last battle.scores
}

// New checks cfg and returns an empty controller.
func New(cfg Config) (*Controller, error) {
	if cfg.MaxRooms < MinRooms || cfg.MaxRooms > MaxRoomsLimit {
		return nil, fmt.Errorf("cohost: MaxRooms %d outside %d..%d", cfg.MaxRooms, MinRooms, MaxRoomsLimit)
	}
	if cfg.Clock == nil {
		return nil, fmt.Errorf("cohost: Config.Clock is required")
	}
	return &Controller{
		cfg:      cfg,
		rooms:    map[string]*room{},
		requests: map[string]*request{},
		battles:  map[string]*battle{},
		conns:    map[*connection]struct{}{},
	}, nil
}

// MaxRooms is the most rooms one connection joins.
func (c *Controller) MaxRooms() int { return c.cfg.MaxRooms }

func (c *Controller) now() time.Time { return c.cfg.Clock.Now() }

func (c *Controller) nextID(kind string) string {
	c.lastID++
	return c.cfg.IDPrefix + kind + "-" + strconv.FormatUint(c.lastID, 10)
}

// room returns the state of id, creating it.
func (c *Controller) room(id string) *room {
	r := c.rooms[id]
	if r == nil {
		r = &room{id: id, reqs: map[*request]struct{}{}}
		c.rooms[id] = r
	}
	return r
}

// forget drops a room the controller no longer needs to know.
func (c *Controller) forget(r *room) {
	if r.conn == nil && len(r.reqs) == 0 && c.rooms[r.id] == r {
		delete(c.rooms, r.id)
	}
}

// Connection is the rooms of id's connection in order, id included; nil
// when it is in none.
func (c *Controller) Connection(id string) []Member {
	r := c.rooms[id]
	if r == nil || r.conn == nil {
		return nil
	}
	return r.conn.members()
}

// Battle is the running battle of id's connection (its scores copied), or
// nil.
func (c *Controller) Battle(id string) *Battle {
	r := c.rooms[id]
	if r == nil || r.conn == nil || r.conn.battle == nil {
		return nil
	}
	b := r.conn.battle
	return &Battle{BattleID: b.id, Rooms: append([]string(nil), b.rooms...), EndsAt: b.endsAt, Scores: b.copyScores()}
}

// Connections is the number of connections.
func (c *Controller) Connections() int { return len(c.conns) }

// Pending is the number of pending requests.
func (c *Controller) Pending() int { return len(c.requests) }

// NextDeadline is when Tick must next run; false when nothing is timed.
func (c *Controller) NextDeadline() (time.Time, bool) {
	d := c.deadlines.peek()
	if d == nil {
		return time.Time{}, false
	}
	return d.at, true
}

// Tick fires every deadline that is due: request timeouts, battle ends and
// delayed score notifications, in deadline order.
func (c *Controller) Tick() []Delivery {
	var ds []Delivery
	now := c.now()
	for {
		d := c.deadlines.peek()
		if d == nil || d.at.After(now) {
			return ds
		}
		c.deadlines.remove(d)
		switch {
		case d.request != nil:
			d.request.dl = nil
			ds = append(ds, c.endRequest(d.request, OutcomeTimeout)...)
		case d.flush:
			d.battle.flush = nil
			ds = append(ds, c.flushScores(d.battle)...)
		default:
			d.battle.end = nil
			ds = append(ds, c.endBattle(d.battle, BattleTimeout)...)
		}
	}
}

// RoomEnded takes a room that ended (or whose owner timed out) out of
// everything: its pending requests end with room_ended, told to the other
// side, and it leaves its connection.
func (c *Controller) RoomEnded(id string) []Delivery {
	r := c.rooms[id]
	if r == nil {
		return nil
	}
	c.ending = r
	defer func() { c.ending = nil }()
	var ds []Delivery
	for _, q := range r.sortedRequests() {
		ds = append(ds, c.endRequest(q, OutcomeRoomEnded)...)
	}
	if r.conn != nil {
		ds = append(ds, c.leave(r, ConnectionRoomEnded)...)
	}
	c.forget(r)
	return ds
}

func (cn *connection) members() []Member {
	out := make([]Member, len(cn.rooms))
	for i, r := range cn.rooms {
		out[i] = Member{RoomID: r.id, Owner: r.owner}
	}
	return out
}

func (cn *connection) ids() []string {
	out := make([]string, len(cn.rooms))
	for i, r := range cn.rooms {
		out[i] = r.id
	}
	return out
}

func (b *battle) copyScores() map[string]int64 {
	out := make(map[string]int64, len(b.scores))
	for k, v := range b.scores {
		out[k] = v
	}
	return out
}

func (c *Controller) isEnding(r *room) bool { return c.ending == r }

// RequestsOf lists roomID's pending requests, oldest first: those to it and
// those it sent.
func (c *Controller) RequestsOf(roomID string) (received, sent []Request) {
	r := c.rooms[roomID]
	if r == nil {
		return nil, nil
	}
	for _, q := range r.sortedRequests() {
		if q.to == r {
			received = append(received, q.view())
		} else {
			sent = append(sent, q.view())
		}
	}
	return received, sent
}
