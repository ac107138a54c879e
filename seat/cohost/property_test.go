package cohost

import (
	"fmt"
	"reflect"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"
)

var roomIDs = []string{"A", "B", "C", "D", "E", "F"}

// TestProperty runs random co-host and battle operations against the
// invariants: a room is in at most one connection and every connection has
// MinRooms..MaxRooms rooms; every request ends exactly once (one
// RequestEnded, and only ended requests are gone); a battle exists only
// inside its connection, among rooms of it; a refused operation changes
// nothing and says nothing; after Tick nothing due is left; and every
// room's last cohost.changed is its connection as the controller holds it.
func TestProperty(t *testing.T) {
	var joined, battles, timeouts atomic.Int64
	defer func() {
		t.Logf("%d rooms joined connections, %d battles started, %d requests timed out", joined.Load(), battles.Load(), timeouts.Load())
		if joined.Load() == 0 || battles.Load() == 0 || timeouts.Load() == 0 {
			t.Error("the random operations never reached connections, battles or timeouts")
		}
	}()
	rapid.Check(t, func(rt *rapid.T) {
		maxRooms := rapid.IntRange(MinRooms, 4).Draw(rt, "maxRooms")
		clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
		c, err := New(Config{MaxRooms: maxRooms, Clock: clock})
		if err != nil {
			rt.Fatal(err)
		}
		m := &model{c: c, created: map[string]bool{}, endedN: map[string]int{}, lastChanged: map[string][]Member{}}
		pick := func(label string, from []string) string {
			if len(from) == 0 {
				return "none"
			}
			return from[rapid.IntRange(0, len(from)-1).Draw(rt, label)]
		}
		room := func(label string) string { return pick(label, roomIDs) }
		reqID := func() string { return pick("req", m.ids) }
		for range 200 {
			before := m.fingerprint()
			var ds []Delivery
			var err error
			op := rapid.IntRange(0, 10).Draw(rt, "op")
			switch op {
			case 0, 1:
				from := room("from")
				var id string
				id, ds, err = c.Request(from, host(from), room("to"), rapid.IntRange(-1, 61).Draw(rt, "timeout"), "")
				if err == nil {
					m.created[id] = true
					m.ids = append(m.ids, id)
				}
			case 2:
				ds, err = c.Cancel(room("actor"), reqID())
			case 3, 4:
				r := room("actor")
				ds, err = c.Accept(r, host(r), reqID())
			case 5:
				ds, err = c.Reject(room("actor"), reqID())
			case 6:
				ds, err = c.Leave(room("actor"))
			case 7:
				_, ds, err = c.StartBattle(room("actor"), rapid.IntRange(9, 40).Draw(rt, "duration"))
			case 8:
				if rapid.Bool().Draw(rt, "stop") {
					ds, err = c.StopBattle(room("actor"))
				} else {
					bids := []string{"none"}
					for id := range c.battles {
						bids = append(bids, id)
					}
					sort.Strings(bids)
					ds, err = c.AddScore(pick("battle", bids), room("scorer"), rapid.Int64Range(-5, 5).Draw(rt, "delta"))
				}
			case 9:
				clock.Advance(time.Duration(rapid.IntRange(0, 15_000).Draw(rt, "ms")) * time.Millisecond)
				ds = c.Tick()
				if at, ok := c.NextDeadline(); ok && !at.After(clock.now) {
					rt.Fatalf("after Tick a deadline at %v is due (now %v)", at, clock.now)
				}
			case 10:
				ds = c.RoomEnded(room("ended"))
			}
			if err != nil {
				if ds != nil {
					rt.Fatalf("op %d refused (%v) but delivered %v", op, err, ds)
				}
				if after := m.fingerprint(); after != before {
					rt.Fatalf("op %d refused (%v) but changed the state:\n%s\n%s", op, err, before, after)
				}
				continue
			}
			m.observe(rt, ds)
			m.check(rt)
			for _, d := range ds {
				switch ev := d.Event.(type) {
				case Changed:
					joined.Add(int64(len(ev.Rooms)))
				case BattleStarted:
					battles.Add(1)
				case RequestEnded:
					if ev.Outcome == OutcomeTimeout {
						timeouts.Add(1)
					}
				}
			}
		}
	})
}

// fataler is what the invariants need of *rapid.T and *testing.T.
type fataler interface {
	Fatalf(format string, args ...any)
	Fatal(args ...any)
}

type model struct {
	c           *Controller
	created     map[string]bool
	ids         []string
	endedN      map[string]int
	lastChanged map[string][]Member
	open        int // ConnectionStarted minus ConnectionEnded
}

func (m *model) observe(rt fataler, ds []Delivery) {
	for _, d := range ds {
		switch ev := d.Event.(type) {
		case RequestEnded:
			m.endedN[ev.Request.RequestID]++
			if m.endedN[ev.Request.RequestID] > 1 {
				rt.Fatalf("request %s ended twice", ev.Request.RequestID)
			}
		case Changed:
			for _, r := range d.Rooms {
				m.lastChanged[r] = ev.Rooms
			}
		case ConnectionStarted:
			m.open++
		case ConnectionEnded:
			m.open--
		}
	}
}

func (m *model) check(rt fataler) {
	c := m.c
	if m.open != len(c.conns) {
		rt.Fatalf("%d connections started and not ended, %d exist", m.open, len(c.conns))
	}
	in := map[*room]*connection{}
	for cn := range c.conns {
		if n := len(cn.rooms); n < MinRooms || n > c.cfg.MaxRooms {
			rt.Fatalf("connection of %d rooms", n)
		}
		for _, r := range cn.rooms {
			if in[r] != nil {
				rt.Fatalf("room %s in two connections", r.id)
			}
			in[r] = cn
			if r.conn != cn || c.rooms[r.id] != r {
				rt.Fatalf("room %s's connection pointer is stale", r.id)
			}
		}
		if b := cn.battle; b != nil {
			if c.battles[b.id] != b || b.conn != cn {
				rt.Fatalf("battle %s not tied to its connection", b.id)
			}
			for _, id := range b.rooms {
				if c.rooms[id] == nil || c.rooms[id].conn != cn {
					rt.Fatalf("battle %s has room %s outside its connection", b.id, id)
				}
			}
		}
	}
	for _, b := range c.battles {
		if _, ok := c.conns[b.conn]; !ok || b.conn.battle != b {
			rt.Fatalf("battle %s outside a connection", b.id)
		}
	}
	for id := range m.created {
		_, pending := c.requests[id]
		if pending == (m.endedN[id] == 1) {
			rt.Fatalf("request %s: pending %v, ended %d times", id, pending, m.endedN[id])
		}
	}
	for id, q := range c.requests {
		if q.dl == nil || q.dl.index < 0 {
			rt.Fatalf("request %s has no deadline", id)
		}
		if q.from.conn != nil && q.from.conn == q.to.conn {
			rt.Fatalf("request %s links two rooms of one connection", id)
		}
	}
	for _, id := range roomIDs {
		got := c.Connection(id)
		last, told := m.lastChanged[id]
		if !told {
			last = nil
		}
		if len(got) == 0 && len(last) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, last) {
			rt.Fatalf("room %s was last told %v, is in %v", id, last, got)
		}
	}
}

// fingerprint is everything observable of the controller, to prove refused
// operations change nothing.
func (m *model) fingerprint() string {
	c := m.c
	s := fmt.Sprintf("pending=%d conns=%d lastID=%d", len(c.requests), len(c.conns), c.lastID)
	for _, id := range roomIDs {
		s += fmt.Sprintf(" %s:%v", id, c.Connection(id))
		if b := c.Battle(id); b != nil {
			s += fmt.Sprintf("/%s%v", b.BattleID, b.Scores)
		}
	}
	at, ok := c.NextDeadline()
	return s + fmt.Sprint(at, ok)
}
