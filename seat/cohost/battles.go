package cohost

import (
	"math"
	"time"
)

// StartBattle is battle.start: every room of actorRoom's connection takes
// part for duration seconds.
func (c *Controller) StartBattle(actorRoom string, duration int) (string, []Delivery, error) {
	r := c.rooms[actorRoom]
	switch {
	case duration < MinDuration || duration > MaxDuration:
		return "", nil, newErr(ErrInvalidParams, "duration must be %d..%d seconds", MinDuration, MaxDuration)
	case r == nil || r.conn == nil:
		return "", nil, newErr(ErrNotConnected, "room %s is in no connection", actorRoom)
	case r.conn.battle != nil:
		return "", nil, newErr(ErrBattleRunning, "battle %s is running", r.conn.battle.id)
	}
	cn := r.conn
	b := &battle{
		id: c.nextID("battle"), conn: cn, rooms: cn.ids(),
		endsAt: c.now().Add(time.Duration(duration) * time.Second),
		scores: make(map[string]int64, len(cn.rooms)),
	}
	for _, id := range b.rooms {
		b.scores[id] = 0
	}
	b.end = c.deadlines.add(&deadline{at: b.endsAt, battle: b})
	cn.battle = b
	c.battles[b.id] = b
	ds := []Delivery{{To: Everyone, Rooms: cn.ids(), Event: BattleStarted{
		BattleID: b.id, Rooms: append([]string(nil), b.rooms...), EndsAt: b.endsAt,
	}}}
	return b.id, ds, nil
}

// StopBattle is battle.stop.
func (c *Controller) StopBattle(actorRoom string) ([]Delivery, error) {
	r := c.rooms[actorRoom]
	if r == nil || r.conn == nil {
		return nil, newErr(ErrNotConnected, "room %s is in no connection", actorRoom)
	}
	if r.conn.battle == nil {
		return nil, newErr(ErrBattleNotRunning, "no battle is running")
	}
	return c.endBattle(r.conn.battle, BattleStopped), nil
}

// AddScore adds delta to roomID's score in a running battle (the server
// API's score endpoint). battle.scores goes out at once if the last one is
// ScoresEvery old, else when it is.
func (c *Controller) AddScore(battleID, roomID string, delta int64) ([]Delivery, error) {
	b := c.battles[battleID]
	if b == nil {
		return nil, newErr(ErrBattleNotFound, "no running battle %q", battleID)
	}
	if !b.has(roomID) {
		return nil, newErr(ErrRoomNotInBattle, "room %q takes no part in battle %s", roomID, battleID)
	}
	b.scores[roomID] = saturatingAdd(b.scores[roomID], delta)
	b.dirty = true
	if b.flush != nil {
		return nil, nil // already due
	}
	now := c.now()
	if due := b.flushed.Add(ScoresEvery); !b.flushed.IsZero() && now.Before(due) {
		b.flush = c.deadlines.add(&deadline{at: due, battle: b, flush: true})
		return nil, nil
	}
	return c.flushScores(b), nil
}

func (c *Controller) flushScores(b *battle) []Delivery {
	if !b.dirty || c.battles[b.id] != b {
		return nil
	}
	b.dirty = false
	b.flushed = c.now()
	return []Delivery{{To: Everyone, Rooms: b.conn.ids(), Event: BattleScores{BattleID: b.id, Scores: b.copyScores()}}}
}

// endBattle ends b exactly once, telling every room of its connection (a
// room leaving is still in the list when this runs).
func (c *Controller) endBattle(b *battle, reason string) []Delivery {
	if c.battles[b.id] != b {
		return nil
	}
	delete(c.battles, b.id)
	c.deadlines.remove(b.end)
	c.deadlines.remove(b.flush)
	b.end, b.flush = nil, nil
	rooms := b.conn.ids()
	if b.conn.battle == b {
		b.conn.battle = nil
	}
	if len(rooms) == 0 { // the connection already dissolved: its last rooms
		rooms = b.rooms
	}
	return []Delivery{{To: Everyone, Rooms: rooms, Event: BattleEnded{
		BattleID: b.id, Scores: b.copyScores(), Winners: b.winners(), Reason: reason,
	}}}
}

// winners are every room with the top score, in the battle's order.
func (b *battle) winners() []string {
	best := int64(math.MinInt64)
	for _, id := range b.rooms {
		best = max(best, b.scores[id])
	}
	var out []string
	for _, id := range b.rooms {
		if b.scores[id] == best {
			out = append(out, id)
		}
	}
	return out
}

func (b *battle) has(roomID string) bool {
	for _, id := range b.rooms {
		if id == roomID {
			return true
		}
	}
	return false
}

func saturatingAdd(a, b int64) int64 {
	s := a + b
	switch {
	case b > 0 && s < a:
		return math.MaxInt64
	case b < 0 && s > a:
		return math.MinInt64
	}
	return s
}
