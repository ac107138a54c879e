package signal_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/signaltest"
	"github.com/seatsfu/seatsfu/signal/webhook"
)

// The server API scores battles through the co-host desk and shows each
// room's connection in RoomInfo.cohost (PROTOCOL.md §11), with no wiring
// beyond signal.New's defaults.
func TestCohostThroughTheServerAPI(t *testing.T) {
	env := signaltest.Start(t)
	a, b := openLive(t, env, "A"), openLive(t, env, "B")
	connect(t, a, b)
	var info proto.APIRoom
	if err := json.Unmarshal(apiWant(t, env, "GET", "/v1/api/rooms/A", "", 200, ""), &info); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(info.Cohost, []string{"B"}) {
		t.Fatalf("RoomInfo.cohost of A = %v, want [B]", info.Cohost)
	}
	var started proto.BattleStartResult
	call(t, a.owner, "battle.start", map[string]any{"duration": 60}, &started)
	apiWant(t, env, "POST", "/v1/api/battles/"+started.BattleID+"/score", `{"roomId":"B","delta":5}`, 200, "")
	wait(t, a.viewer, "battle.scores", func(p json.RawMessage) bool {
		var v proto.BattleScores
		return json.Unmarshal(p, &v) == nil && v.Scores["B"] == 5
	})
	apiWant(t, env, "POST", "/v1/api/battles/nope/score", `{"roomId":"B","delta":5}`, 404, "battle_not_found")
	apiWant(t, env, "POST", "/v1/api/battles/"+started.BattleID+"/score", `{"roomId":"C","delta":5}`, 409, "room_not_in_battle")
}

// Co-hosting's webhooks: cohost.started to both rooms, battle.ended, and
// cohost.ended with its reason; a room that ended gets none after its
// room.ended.
func TestCohostWebhooks(t *testing.T) {
	rcv := &hookReceiver{t: t, byRoom: map[string][]client.WebhookEvent{}}
	env, _ := startWithWebhooks(t, rcv, webhook.Config{})
	rcv.secret = func() []byte { return env.Secret }
	a, b, c := openLive(t, env, "A"), openLive(t, env, "B"), openLive(t, env, "C")
	connect(t, a, b)
	call(t, a.owner, "battle.start", map[string]any{"duration": 60}, nil)
	call(t, b.owner, "cohost.leave", nil, nil)
	connect(t, c, a)
	call(t, a.owner, "room.end", nil, nil)

	cohostEvents := func(room string) []string {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		var out []string
		for _, ev := range rcv.byRoom[room] {
			var d struct {
				Rooms  []string `json:"rooms"`
				Reason string   `json:"reason"`
			}
			_ = json.Unmarshal(ev.Data, &d)
			switch ev.Event {
			case webhook.CohostStarted, webhook.CohostEnded, webhook.BattleEnded:
				line := ev.Event + " " + d.Reason
				for _, r := range d.Rooms {
					line += " " + r
				}
				out = append(out, line)
			case webhook.RoomEnded:
				out = append(out, ev.Event)
			}
		}
		return out
	}
	want := map[string][]string{
		"A": {"cohost.started  A B", "battle.ended connection_ended", "cohost.ended left A B", "cohost.started  C A", "room.ended"},
		"B": {"cohost.started  A B", "battle.ended connection_ended", "cohost.ended left A B"},
		"C": {"cohost.started  C A", "cohost.ended room_ended C A"},
	}
	eventually(t, "the co-host webhooks", func() bool {
		for room, w := range want {
			if !reflect.DeepEqual(cohostEvents(room), w) {
				return false
			}
		}
		return true
	})
}
