package cohost

import (
	"testing"
	"time"
)

// FuzzOperations drives the controller with operations decoded from the
// input, three bytes each (operation, two arguments), and checks the
// property test's invariants after every one. Nothing may panic.
func FuzzOperations(f *testing.F) {
	f.Add([]byte{0, 0, 1, 3, 1, 0, 7, 0, 30, 9, 200, 0, 6, 1, 0})
	f.Add([]byte{0, 0, 1, 0, 1, 0, 3, 1, 0, 3, 0, 0, 0, 2, 0, 10, 1, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
		c, err := New(Config{MaxRooms: 3, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		m := &model{c: c, created: map[string]bool{}, endedN: map[string]int{}, lastChanged: map[string][]Member{}}
		room := func(b byte) string { return roomIDs[int(b)%len(roomIDs)] }
		req := func(b byte) string {
			if len(m.ids) == 0 {
				return "none"
			}
			return m.ids[int(b)%len(m.ids)]
		}
		for ; len(in) >= 3; in = in[3:] {
			op, x, y := in[0]%11, in[1], in[2]
			before := m.fingerprint()
			var ds []Delivery
			var err error
			switch op {
			case 0, 1:
				var id string
				id, ds, err = c.Request(room(x), host(room(x)), room(y), int(y)%63-1, "")
				if err == nil {
					m.created[id] = true
					m.ids = append(m.ids, id)
				}
			case 2:
				ds, err = c.Cancel(room(x), req(y))
			case 3, 4:
				ds, err = c.Accept(room(x), host(room(x)), req(y))
			case 5:
				ds, err = c.Reject(room(x), req(y))
			case 6:
				ds, err = c.Leave(room(x))
			case 7:
				_, ds, err = c.StartBattle(room(x), int(y))
			case 8:
				if b := c.Battle(room(x)); b != nil {
					ds, err = c.AddScore(b.BattleID, room(y), int64(int8(y)))
				} else {
					ds, err = c.StopBattle(room(x))
				}
			case 9:
				clock.Advance(time.Duration(x) * 50 * time.Millisecond)
				ds = c.Tick()
			case 10:
				ds = c.RoomEnded(room(x))
			}
			if err != nil {
				if ds != nil || m.fingerprint() != before {
					t.Fatalf("op %d refused (%v) but acted", op, err)
				}
				continue
			}
			m.observe(t, ds)
			m.check(t)
		}
	})
}
