package client_test

import (
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// cohostLog records what a CohostListener heard, in order.
type cohostLog struct {
	client.NopCohostListener
	mu   sync.Mutex
	seen []string
}

func (l *cohostLog) add(s string) { l.mu.Lock(); l.seen = append(l.seen, s); l.mu.Unlock() }
func (l *cohostLog) OnCohostRequestReceived(r proto.CohostRequest) {
	l.add("received " + r.From.RoomID)
}
func (l *cohostLog) OnCohostRequestResponded(_ string, ok bool) {
	l.add(map[bool]string{true: "accepted", false: "rejected"}[ok])
}
func (l *cohostLog) OnCohostChanged(rooms []proto.CohostRoom) { l.add("changed " + ids(rooms)) }
func (l *cohostLog) OnBattleStarted(proto.BattleStarted)      { l.add("battle") }
func (l *cohostLog) OnBattleEnded(ev proto.BattleEnded)       { l.add("ended " + ev.Reason) }

func (l *cohostLog) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range l.seen {
		if x == s {
			return true
		}
	}
	return false
}

func ids(rooms []proto.CohostRoom) string {
	s := "["
	for i, r := range rooms {
		if i > 0 {
			s += " "
		}
		s += r.RoomID
	}
	return s + "]"
}

func eventuallyT(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCohostAndBattleSDK(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ra, rb := e.newRoom(), e.newRoom()
	oa := e.join(ra, "oa", proto.RoleOwner, nil)
	ob := e.join(rb, "ob", proto.RoleOwner, nil)
	fan := e.join(rb, "fan", proto.RoleAudience, nil)
	la, lb, lf := &cohostLog{}, &cohostLog{}, &cohostLog{}
	oa.AddCohostListener(la)
	ob.AddCohostListener(lb)
	fan.AddCohostListener(lf)
	ctx := ctxT(t)

	_, err := fan.RequestCohost(ctx, ra, 0, "")
	refused(t, "audience requests", err, client.ErrPermission)
	_, err = oa.RequestCohost(ctx, ra, 0, "")
	refused(t, "self", err, client.ErrCohostSelf)
	_, err = oa.RequestCohost(ctx, rb, 1500*time.Millisecond, "")
	if err == nil {
		t.Fatal("a timeout of 1.5 s was sent")
	}
	refused(t, "leave unconnected", oa.LeaveCohost(ctx), client.ErrNotConnected)

	id, err := oa.RequestCohost(ctx, rb, 10*time.Second, "pk")
	must(t, "request", err)
	if got := oa.SentCohostRequests(); !reflect.DeepEqual(got, []string{id}) {
		t.Fatalf("sent %v", got)
	}
	eventuallyT(t, "B's owner sees the request", func() bool {
		rs := ob.CohostRequests()
		return len(rs) == 1 && rs[0].RequestID == id && rs[0].From.RoomID == ra && lb.has("received "+ra)
	})
	must(t, "accept", ob.AcceptCohostRequest(ctx, id))
	if len(ob.CohostRequests()) != 0 {
		t.Fatal("accepted request kept")
	}
	both := "[" + ra + " " + rb + "]"
	eventuallyT(t, "everyone's store shows the connection", func() bool {
		return ids(oa.CohostRooms()) == both && ids(fan.CohostRooms()) == both && len(oa.SentCohostRequests()) == 0 &&
			la.has("accepted") && lf.has("changed "+both)
	})
	late := e.join(rb, "late", proto.RoleAudience, nil)
	if ids(late.CohostRooms()) != both {
		t.Fatalf("late joiner's store %v", late.CohostRooms())
	}

	bid, err := oa.StartBattle(ctx, 30*time.Second)
	must(t, "start battle", err)
	_, err = ob.StartBattle(ctx, 30*time.Second)
	refused(t, "second battle", err, client.ErrBattleRunning)
	eventuallyT(t, "battle in the stores", func() bool {
		b, ok := fan.Battle()
		return ok && b.BattleID == bid && lf.has("battle")
	})
	must(t, "score", e.st.Server.AddBattleScore(bid, rb, 7))
	eventuallyT(t, "score in the store", func() bool { b, _ := fan.Battle(); return b.Scores[rb] == 7 })
	late2 := e.join(ra, "late2", proto.RoleAudience, nil)
	if b, ok := late2.Battle(); !ok || b.BattleID != bid || b.Scores[rb] != 7 {
		t.Fatalf("late joiner's battle %+v %v", b, ok)
	}
	must(t, "stop", ob.StopBattle(ctx))
	refused(t, "stop again", ob.StopBattle(ctx), client.ErrBattleNotRunning)
	eventuallyT(t, "battle gone", func() bool { _, ok := fan.Battle(); return !ok && lf.has("ended stopped") })

	must(t, "leave", ob.LeaveCohost(ctx))
	eventuallyT(t, "connection gone", func() bool {
		return oa.CohostRooms() == nil && fan.CohostRooms() == nil && lf.has("changed []")
	})
	// A request the requester cancels, and one the target rejects.
	id, err = oa.RequestCohost(ctx, rb, 0, "")
	must(t, "request", err)
	must(t, "cancel", oa.CancelCohostRequest(ctx, id))
	eventuallyT(t, "cancel reaches B", func() bool { return len(ob.CohostRequests()) == 0 })
	id, err = oa.RequestCohost(ctx, rb, 0, "")
	must(t, "request", err)
	eventuallyT(t, "B sees it", func() bool { return len(ob.CohostRequests()) == 1 })
	must(t, "reject", ob.RejectCohostRequest(ctx, id))
	eventuallyT(t, "A hears the rejection", func() bool { return la.has("rejected") && len(oa.SentCohostRequests()) == 0 })

	// An owner coming back (a new connection) finds its pending requests.
	id, err = oa.RequestCohost(ctx, rb, 0, "")
	must(t, "request", err)
	ob2 := e.join(rb, "ob", proto.RoleOwner, nil)
	if rs := ob2.CohostRequests(); len(rs) != 1 || rs[0].RequestID != id {
		t.Fatalf("the returning owner's requests: %+v", rs)
	}
	oa2 := e.join(ra, "oa", proto.RoleOwner, nil)
	if sent := oa2.SentCohostRequests(); !reflect.DeepEqual(sent, []string{id}) {
		t.Fatalf("the returning requester's sent requests: %v", sent)
	}
	must(t, "accept after coming back", ob2.AcceptCohostRequest(ctx, id))
	eventuallyT(t, "connected again", func() bool { return ids(oa2.CohostRooms()) == both })
}
