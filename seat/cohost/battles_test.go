package cohost

import (
	"math"
	"testing"
	"time"
)

func TestBattleErrors(t *testing.T) {
	f := newFixture(t, 4)
	_, _, err := f.c.StartBattle("A", 60)
	wantErr(t, err, ErrNotConnected)
	_, err = f.c.StopBattle("A")
	wantErr(t, err, ErrNotConnected)
	f.connect("A", "B")
	_, err = f.c.StopBattle("A")
	wantErr(t, err, ErrBattleNotRunning)
	for _, d := range []int{0, 9, 3601, -5} {
		_, _, err = f.c.StartBattle("A", d)
		wantErr(t, err, ErrInvalidParams)
	}
	bid, _, err := f.c.StartBattle("B", 10)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = f.c.StartBattle("A", 60)
	wantErr(t, err, ErrBattleRunning)
	_, err = f.c.AddScore("nope", "A", 1)
	wantErr(t, err, ErrBattleNotFound)
	_, err = f.c.AddScore(bid, "Z", 1)
	wantErr(t, err, ErrRoomNotInBattle)
}

func TestBattleTimeoutWinnersAndTies(t *testing.T) {
	f := newFixture(t, 4)
	f.connect("A", "B", "C")
	start := f.clock.now
	bid, ds, err := f.c.StartBattle("C", 30)
	if err != nil {
		t.Fatal(err)
	}
	wantDeliveries(t, ds, []Delivery{toRooms(BattleStarted{BattleID: bid, Rooms: []string{"A", "B", "C"},
		EndsAt: start.Add(30 * time.Second)}, "A", "B", "C")})
	if at, _ := f.c.NextDeadline(); !at.Equal(start.Add(30 * time.Second)) {
		t.Fatalf("deadline %v", at)
	}
	// Scores: the first goes out at once, the next within 200 ms are one.
	ds, _ = f.c.AddScore(bid, "A", 5)
	wantDeliveries(t, ds, []Delivery{toRooms(BattleScores{BattleID: bid,
		Scores: map[string]int64{"A": 5, "B": 0, "C": 0}}, "A", "B", "C")})
	f.clock.Advance(50 * time.Millisecond)
	for _, add := range []struct {
		room  string
		delta int64
	}{{"B", 7}, {"C", 7}, {"A", 2}} {
		if ds, _ := f.c.AddScore(bid, add.room, add.delta); ds != nil {
			t.Fatalf("not coalesced: %v", ds)
		}
	}
	if at, _ := f.c.NextDeadline(); !at.Equal(start.Add(200 * time.Millisecond)) {
		t.Fatalf("flush at %v", at.Sub(start))
	}
	f.clock.Advance(149 * time.Millisecond)
	if ds := f.c.Tick(); ds != nil {
		t.Fatalf("early flush %v", ds)
	}
	f.clock.Advance(time.Millisecond)
	wantDeliveries(t, f.c.Tick(), []Delivery{toRooms(BattleScores{BattleID: bid,
		Scores: map[string]int64{"A": 7, "B": 7, "C": 7}}, "A", "B", "C")})
	f.c.AddScore(bid, "C", -1) // due 200 ms after the last flush, long before the end
	// A tie for the top: both win. The delayed scores go out first.
	f.clock.now = start.Add(30 * time.Second)
	final := map[string]int64{"A": 7, "B": 7, "C": 6}
	wantDeliveries(t, f.c.Tick(), []Delivery{toRooms(BattleScores{BattleID: bid, Scores: final}, "A", "B", "C"), toRooms(BattleEnded{BattleID: bid,
		Scores: map[string]int64{"A": 7, "B": 7, "C": 6}, Winners: []string{"A", "B"}, Reason: "timeout"}, "A", "B", "C")})
	if f.c.Battle("A") != nil {
		t.Fatal("battle kept")
	}
	if _, ok := f.c.NextDeadline(); ok {
		t.Fatal("the pending flush outlived the battle")
	}
	_, err = f.c.AddScore(bid, "A", 1)
	wantErr(t, err, ErrBattleNotFound)
}

func TestBattleStopAndLateJoiner(t *testing.T) {
	f := newFixture(t, 4)
	f.connect("A", "B")
	bid, _, _ := f.c.StartBattle("A", 60)
	f.c.AddScore(bid, "B", 3)
	// C joins mid-battle: it sees the battle, takes no part.
	id, _ := f.request("A", "C")
	f.accept("C", id)
	b := f.c.Battle("C")
	if b == nil || b.BattleID != bid || b.Scores["B"] != 3 || len(b.Rooms) != 2 {
		t.Fatalf("late joiner sees %+v", b)
	}
	_, err := f.c.AddScore(bid, "C", 1)
	wantErr(t, err, ErrRoomNotInBattle)
	// C leaves: the battle goes on.
	ds, _ := f.c.Leave("C")
	if len(ds) != 2 || f.c.Battle("A") == nil {
		t.Fatalf("leave of a non-fighter: %v", ds)
	}
	ds, err = f.c.StopBattle("B")
	if err != nil {
		t.Fatal(err)
	}
	wantDeliveries(t, ds, []Delivery{toRooms(BattleEnded{BattleID: bid, Scores: map[string]int64{"A": 0, "B": 3},
		Winners: []string{"B"}, Reason: "stopped"}, "A", "B")})
}

func TestFighterLeavingEndsTheBattle(t *testing.T) {
	f := newFixture(t, 4)
	f.connect("A", "B")
	bid, _, _ := f.c.StartBattle("A", 60)
	ds, _ := f.c.Leave("A")
	wantDeliveries(t, ds, []Delivery{
		toRooms(BattleEnded{BattleID: bid, Scores: map[string]int64{"A": 0, "B": 0},
			Winners: []string{"A", "B"}, Reason: "connection_ended"}, "A", "B"),
		{To: Internal, Event: ConnectionEnded{Rooms: []string{"A", "B"}, Reason: "left"}},
		toRooms(Changed{Rooms: []Member{}}, "A", "B"),
	})
}

func TestScoresSaturate(t *testing.T) {
	f := newFixture(t, 2)
	f.connect("A", "B")
	bid, _, _ := f.c.StartBattle("A", 60)
	f.c.AddScore(bid, "A", math.MaxInt64)
	f.c.AddScore(bid, "A", 10)
	f.c.AddScore(bid, "B", math.MinInt64)
	f.c.AddScore(bid, "B", -10)
	b := f.c.Battle("A")
	if b.Scores["A"] != math.MaxInt64 || b.Scores["B"] != math.MinInt64 {
		t.Fatalf("scores %v", b.Scores)
	}
}

func TestConfig(t *testing.T) {
	for _, n := range []int{0, 1, 10} {
		if _, err := New(Config{MaxRooms: n, Clock: &fakeClock{}}); err == nil {
			t.Errorf("MaxRooms %d accepted", n)
		}
	}
	if _, err := New(Config{MaxRooms: 4}); err == nil {
		t.Error("no clock accepted")
	}
}
