package cohost

// Leave is cohost.leave: actorRoom leaves its connection; a connection left
// with one room ends.
func (c *Controller) Leave(actorRoom string) ([]Delivery, error) {
	r := c.rooms[actorRoom]
	if r == nil || r.conn == nil {
		return nil, newErr(ErrNotConnected, "room %s is in no connection", actorRoom)
	}
	ds := c.leave(r, ConnectionLeft)
	c.forget(r)
	return ds, nil
}

// leave takes r out of its connection (why: ConnectionLeft or
// ConnectionRoomEnded): a battle r takes part in ends first, then r hears
// it has no connection and the others their new list (the last one left
// hears the same as r).
func (c *Controller) leave(r *room, why string) []Delivery {
	cn := r.conn
	before := cn.ids()
	var ds []Delivery
	if b := cn.battle; b != nil && b.has(r.id) {
		ds = append(ds, c.endBattle(b, BattleConnectionEnded)...)
	}
	kept := make([]*room, 0, len(cn.rooms)-1)
	for _, o := range cn.rooms {
		if o != r {
			kept = append(kept, o)
		}
	}
	r.conn = nil
	cn.rooms = kept
	gone := []string{r.id}
	if len(kept) < MinRooms {
		for _, o := range kept {
			o.conn = nil
			gone = append(gone, o.id)
		}
		cn.rooms = nil
		delete(c.conns, cn)
		if cn.battle != nil { // a battle without r: cannot outlive its connection
			ds = append(ds, c.endBattle(cn.battle, BattleConnectionEnded)...)
		}
		ds = append(ds, Delivery{To: Internal, Event: ConnectionEnded{Rooms: before, Reason: why}})
	}
	ds = append(ds, Delivery{To: Everyone, Rooms: gone, Event: Changed{Rooms: []Member{}}})
	if len(cn.rooms) > 0 {
		ds = append(ds, c.changed(cn)...)
	}
	for _, o := range kept {
		c.forget(o)
	}
	return ds
}

// changed tells everyone in cn's rooms its list.
func (c *Controller) changed(cn *connection) []Delivery {
	return []Delivery{{To: Everyone, Rooms: cn.ids(), Event: Changed{Rooms: cn.members()}}}
}
