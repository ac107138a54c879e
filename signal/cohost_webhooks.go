package signal

import (
	"github.com/seatsfu/seatsfu/seat/cohost"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/webhook"
)

// emitWebhooks turns the controller's records into §11's cohost.started,
// cohost.ended and battle.ended webhooks, one per live room concerned. A
// room that has ended gets none: room.ended is its last event. Called with
// the desk's lock held, which keeps each room's co-host webhooks in order.
func (d *cohostDesk) emitWebhooks(dl cohost.Delivery) {
	hooks := d.srv.cfg.Webhooks
	if hooks == nil {
		return
	}
	emit := func(rooms []string, event string, data any) {
		for _, r := range rooms {
			if d.live[r] != nil {
				hooks.Emit(r, event, data)
			}
		}
	}
	switch ev := dl.Event.(type) {
	case cohost.ConnectionStarted:
		emit(ev.Rooms, webhook.CohostStarted, proto.WebhookCohostStarted{Rooms: ev.Rooms})
	case cohost.ConnectionEnded:
		emit(ev.Rooms, webhook.CohostEnded, proto.WebhookCohostEnded{Rooms: ev.Rooms, Reason: ev.Reason})
	case cohost.BattleEnded:
		winners := ev.Winners
		if winners == nil {
			winners = []string{}
		}
		emit(dl.Rooms, webhook.BattleEnded, proto.WebhookBattleEnded{
			BattleID: ev.BattleID, Scores: ev.Scores, Winners: winners, Reason: ev.Reason,
		})
	}
}
