package signal

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/seatsfu/seatsfu/seat/cohost"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/token"
)

// addCohostMethods registers the methods of PROTOCOL.md §10. Each is a
// controller operation run by the node's cohostDesk on behalf of the
// caller's room; only its owner may call them.
func addCohostMethods(m map[string]method) {
	m[proto.MethodCohostRequest] = bind(cohostRequest)
	m[proto.MethodCohostCancel] = bind(func(s *session, id json.RawMessage, p *proto.CohostRequestIDParams) (any, error) {
		return cohostAnswer(s, id, p, (*cohost.Controller).Cancel)
	})
	m[proto.MethodCohostReject] = bind(func(s *session, id json.RawMessage, p *proto.CohostRequestIDParams) (any, error) {
		return cohostAnswer(s, id, p, (*cohost.Controller).Reject)
	})
	m[proto.MethodCohostAccept] = bind(func(s *session, id json.RawMessage, p *proto.CohostRequestIDParams) (any, error) {
		return cohostAnswer(s, id, p, func(c *cohost.Controller, room, reqID string) ([]cohost.Delivery, error) {
			return c.Accept(room, cohostHostOf(s), reqID)
		})
	})
	m[proto.MethodCohostLeave] = bind(func(s *session, id json.RawMessage, _ *proto.Empty) (any, error) {
		return s.srv.cohost.run(s, id, func(c *cohost.Controller, actor *roomHub) (any, []cohost.Delivery, error) {
			ds, err := c.Leave(actor.id)
			return nil, ds, err
		})
	})
	m[proto.MethodBattleStart] = bind(func(s *session, id json.RawMessage, p *proto.BattleStartParams) (any, error) {
		return s.srv.cohost.run(s, id, func(c *cohost.Controller, actor *roomHub) (any, []cohost.Delivery, error) {
			bid, ds, err := c.StartBattle(actor.id, p.Duration)
			return proto.BattleStartResult{BattleID: bid}, ds, err
		})
	})
	m[proto.MethodBattleStop] = bind(func(s *session, id json.RawMessage, _ *proto.Empty) (any, error) {
		return s.srv.cohost.run(s, id, func(c *cohost.Controller, actor *roomHub) (any, []cohost.Delivery, error) {
			ds, err := c.StopBattle(actor.id)
			return nil, ds, err
		})
	})
}

func cohostHostOf(s *session) cohost.Host {
	return cohost.Host{UserID: s.user.UserID, Name: s.user.Name, Avatar: s.user.Avatar}
}

func cohostRequest(s *session, id json.RawMessage, p *proto.CohostRequestParams) (any, error) {
	if !token.ValidID(p.RoomID) {
		return nil, invalidParams("roomId must be 1-128 characters of [A-Za-z0-9_.-]")
	}
	timeout := cohost.DefaultTimeout
	if p.Timeout != nil {
		if *p.Timeout < cohost.MinTimeout || *p.Timeout > cohost.MaxTimeout {
			return nil, invalidParams("timeout must be 1..60 seconds")
		}
		timeout = *p.Timeout
	}
	return s.srv.cohost.run(s, id, func(c *cohost.Controller, actor *roomHub) (any, []cohost.Delivery, error) {
		if p.RoomID == actor.id {
			return nil, nil, cohost.ErrCohostSelf
		}
		// The target must be live (room_not_found); a request to it ends
		// with room_ended when it goes.
		_, stale, err := s.srv.cohost.resolve(p.RoomID)
		if err != nil {
			return nil, stale, err
		}
		reqID, ds, err := c.Request(actor.id, cohostHostOf(s), p.RoomID, timeout, p.ExtraInfo)
		return proto.CohostRequestResult{RequestID: reqID}, append(stale, ds...), err
	})
}

func cohostAnswer(s *session, id json.RawMessage, p *proto.CohostRequestIDParams,
	op func(c *cohost.Controller, room, reqID string) ([]cohost.Delivery, error)) (any, error) {
	if p.RequestID == "" || len(p.RequestID) > 128 {
		return nil, invalidParams("requestId is required")
	}
	return s.srv.cohost.run(s, id, func(c *cohost.Controller, actor *roomHub) (any, []cohost.Delivery, error) {
		ds, err := op(c, actor.id, p.RequestID)
		return nil, ds, err
	})
}

// serveDemoScore is the dev-mode-only demo endpoint that lets the demo page
// score a battle (PROTOCOL.md §10): POST /demo/battles/{battleId}/score
// {roomId, delta}. Outside dev mode it is 404; the real one is the server
// API's, for app backends.
func (s *Server) serveDemoScore(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.DevMode {
		http.NotFound(w, r)
		return
	}
	var body proto.BattleScoreBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Delta == nil || !token.ValidID(body.RoomID) {
		http.Error(w, `body must be {"roomId": string, "delta": int}`, http.StatusBadRequest)
		return
	}
	err := s.AddBattleScore(r.PathValue("battleId"), body.RoomID, *body.Delta)
	switch {
	case errors.Is(err, ErrBattleNotFound), errors.Is(err, ErrRoomNotInBattle):
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	case err != nil:
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte("{}\n"))
}
