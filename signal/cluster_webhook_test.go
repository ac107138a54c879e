package signal_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/seatsfu/seatsfu/internal/cluster"
	"github.com/seatsfu/seatsfu/internal/redistest"
	"github.com/seatsfu/seatsfu/signal"
	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
	"github.com/seatsfu/seatsfu/signal/webhook"
)

// stallWrites is how long the tests stall Redis's writes: long enough to
// see what waits for them.
const stallWrites = 300 * time.Millisecond

// patientRedis gives a node a store whose operations may take 5 s, so a
// write stalled by pauseWrites is slow, never failed — with the default
// 500 ms a loaded machine could turn the stall into "Redis down", where
// nothing waits for Redis by design.
func patientRedis(t *testing.T, rd *redistest.Server) signaltest.Option {
	t.Helper()
	store, err := cluster.Open(cluster.Options{URL: rd.URL(), OpTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return signaltest.WithSignalConfig(func(c *signal.Config) { c.Cluster.Store = store })
}

// pauseWrites makes Redis hold every write (scripts included) for d, as a
// slow or briefly stalled Redis would; reads go on. Nodes that see it
// should have patientRedis.
func pauseWrites(t *testing.T, rd *redistest.Server, d time.Duration) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: rd.Addr()})
	defer rdb.Close()
	if err := rdb.Do(testCtx(t), "CLIENT", "PAUSE", d.Milliseconds(), "WRITE").Err(); err != nil {
		t.Fatalf("CLIENT PAUSE: %v", err)
	}
}

// durableHookReceiver checks, as each webhook arrives, that the change it
// announces is already in Redis and visible through the server API of
// another node.
type durableHookReceiver struct {
	t      *testing.T
	reader *cluster.Store
	api    *signaltest.Env // a node that does not host the room

	mu     sync.Mutex
	seen   []string
	errors []string
}

func (h *durableHookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var ev client.WebhookEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		h.fail("body %s: %v", body, err)
		return
	}
	var problem string
	switch ev.Event {
	case webhook.RoomStarted:
		if _, err := h.reader.Load(r.Context(), ev.RoomID); err != nil {
			problem = fmt.Sprintf("Redis has no state of the room: %v", err)
		}
	case webhook.SeatTaken:
		var d proto.WebhookSeatTaken
		_ = json.Unmarshal(ev.Data, &d)
		saved, err := h.reader.Load(r.Context(), ev.RoomID)
		if err != nil {
			problem = fmt.Sprintf("load: %v", err)
			break
		}
		st, err := cluster.DecodeState(saved.Blob)
		if err != nil || len(st.Seats) <= d.SeatIndex || st.Seats[d.SeatIndex].UserID != d.User.UserID {
			problem = fmt.Sprintf("Redis holds seats %+v (err %v)", st.Seats, err)
			break
		}
		status, raw := apiDo(h.t, h.api, "GET", "/v1/api/rooms/"+ev.RoomID, "")
		var room proto.APIRoom
		if status != 200 || json.Unmarshal(raw, &room) != nil || len(room.Seats) <= d.SeatIndex ||
			room.Seats[d.SeatIndex].User == nil || room.Seats[d.SeatIndex].User.UserID != d.User.UserID {
			problem = fmt.Sprintf("the API of another node answers %d %s", status, raw)
		}
	case webhook.RoomEnded:
		if _, err := h.reader.Load(r.Context(), ev.RoomID); !errors.Is(err, cluster.ErrNoState) {
			problem = fmt.Sprintf("Redis still has the room: %v", err)
		}
	}
	h.mu.Lock()
	h.seen = append(h.seen, ev.Event)
	if problem != "" {
		h.errors = append(h.errors, ev.Event+": "+problem)
	}
	h.mu.Unlock()
}

func (h *durableHookReceiver) fail(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.errors = append(h.errors, fmt.Sprintf(format, args...))
}

func (h *durableHookReceiver) got(event string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.seen {
		if e == event {
			return true
		}
	}
	return false
}

// TestClusterWebhookFollowsSavedState: with Redis slow to write, each
// webhook still arrives only once Redis holds the change it announces — a
// taken seat, an ended room, a new room — and the server API of another
// node shows it (PROTOCOL.md §11, §12). Without the hold, seat.taken
// arrives while the write is still stalled and the test fails; the new
// room's check is a guard only (claiming the lease is itself a write, so
// the stall is over before the room opens).
func TestClusterWebhookFollowsSavedState(t *testing.T) {
	rd := redistest.Start(t)
	secret := newSecret(t)
	b := clusterNode(t, rd, secret)
	rcv := &durableHookReceiver{t: t, reader: openStore(t, rd), api: b}
	hooks := httptest.NewServer(rcv)
	t.Cleanup(hooks.Close)
	var d *webhook.Dispatcher
	a := clusterNode(t, rd, secret, patientRedis(t, rd), signaltest.WithSignalConfig(func(c *signal.Config) {
		var err error
		d, err = webhook.New(webhook.Config{URLs: []string{hooks.URL}, Secret: c.Secret, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		c.Webhooks = d
	}))
	t.Cleanup(func() { _ = d.Close(testCtx(t)) })

	pauseWrites(t, rd, stallWrites)
	owner, _ := join(t, a, "r1", "owner", proto.RoleOwner, nil)
	eventually(t, "room.started", func() bool { return rcv.got(webhook.RoomStarted) })

	guest, _ := join(t, a, "r1", "guest", proto.RoleAudience, nil)
	call(t, guest, proto.MethodSeatApply, map[string]any{"seatIndex": 1}, nil)
	pauseWrites(t, rd, stallWrites)
	call(t, owner, proto.MethodSeatAcceptApplication, proto.UserParams{UserID: "guest"}, nil)
	eventually(t, "seat.taken of the guest", func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		n := 0
		for _, e := range rcv.seen {
			if e == webhook.SeatTaken {
				n++
			}
		}
		return n == 2 // the owner's at the start, the guest's
	})

	pauseWrites(t, rd, stallWrites)
	call(t, owner, proto.MethodRoomEnd, nil, nil)
	eventually(t, "room.ended", func() bool { return rcv.got(webhook.RoomEnded) })

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for _, e := range rcv.errors {
		t.Error(e)
	}
}
