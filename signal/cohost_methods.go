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
// controller operation run on behalf of the caller's room, by this node's
// cohostDesk or, when another node's controller holds the room's co-host
// state, by that node's (cohost_cluster.go); only its owner may call them.
func addCohostMethods(m map[string]method) {
	m[proto.MethodCohostRequest] = cohostMethod[proto.CohostRequestParams](proto.MethodCohostRequest)
	m[proto.MethodCohostCancel] = cohostMethod[proto.CohostRequestIDParams](proto.MethodCohostCancel)
	m[proto.MethodCohostReject] = cohostMethod[proto.CohostRequestIDParams](proto.MethodCohostReject)
	m[proto.MethodCohostAccept] = cohostMethod[proto.CohostRequestIDParams](proto.MethodCohostAccept)
	m[proto.MethodCohostLeave] = cohostMethod[proto.Empty](proto.MethodCohostLeave)
	m[proto.MethodBattleStart] = cohostMethod[proto.BattleStartParams](proto.MethodBattleStart)
	m[proto.MethodBattleStop] = cohostMethod[proto.Empty](proto.MethodBattleStop)
}

// cohostCall is one co-host method as the desk runs it: it can cross the
// node link to the controller that holds the caller's room.
type cohostCall struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params,omitempty"`
	Host   wireHost        `json:"host"` // the caller, its room's owner
}

type wireHost struct {
	UserID string `json:"userId"`
	Name   string `json:"name,omitempty"`
	Avatar string `json:"avatar,omitempty"`
}

func cohostMethod[P any](name string) method {
	return bind(func(s *session, id json.RawMessage, p *P) (any, error) {
		return s.srv.cohost.run(s, id, cohostCall{Method: name, Params: body(p), Host: wireHost{
			UserID: s.user.UserID, Name: s.user.Name, Avatar: s.user.Avatar,
		}})
	})
}

// cohostOpFor is call's controller operation; target is the room a
// cohost.request asks (it must be reachable before the desk's lock is
// taken). Bad params are refused here, on either node.
func cohostOpFor(call cohostCall) (op cohostOp, target string, err error) {
	host := cohost.Host{UserID: call.Host.UserID, Name: call.Host.Name, Avatar: call.Host.Avatar}
	decode := func(v any) error {
		if err := decodeParams(call.Params, v); err != nil {
			return err
		}
		return nil
	}
	switch call.Method {
	case proto.MethodCohostRequest:
		var p proto.CohostRequestParams
		if err := decode(&p); err != nil {
			return nil, "", err
		}
		op, err := cohostRequest(&p, host)
		return op, p.RoomID, err
	case proto.MethodCohostCancel, proto.MethodCohostReject, proto.MethodCohostAccept:
		var p proto.CohostRequestIDParams
		if err := decode(&p); err != nil {
			return nil, "", err
		}
		if p.RequestID == "" || len(p.RequestID) > 128 {
			return nil, "", invalidParams("requestId is required")
		}
		return func(c *cohost.Controller, actor string) (any, []cohost.Delivery, error) {
			var ds []cohost.Delivery
			var err error
			switch call.Method {
			case proto.MethodCohostCancel:
				ds, err = c.Cancel(actor, p.RequestID)
			case proto.MethodCohostReject:
				ds, err = c.Reject(actor, p.RequestID)
			default:
				ds, err = c.Accept(actor, host, p.RequestID)
			}
			return nil, ds, err
		}, "", nil
	case proto.MethodCohostLeave:
		return func(c *cohost.Controller, actor string) (any, []cohost.Delivery, error) {
			ds, err := c.Leave(actor)
			return nil, ds, err
		}, "", nil
	case proto.MethodBattleStart:
		var p proto.BattleStartParams
		if err := decode(&p); err != nil {
			return nil, "", err
		}
		return func(c *cohost.Controller, actor string) (any, []cohost.Delivery, error) {
			bid, ds, err := c.StartBattle(actor, p.Duration)
			return proto.BattleStartResult{BattleID: bid}, ds, err
		}, "", nil
	case proto.MethodBattleStop:
		return func(c *cohost.Controller, actor string) (any, []cohost.Delivery, error) {
			ds, err := c.StopBattle(actor)
			return nil, ds, err
		}, "", nil
	}
	return nil, "", invalidParams("not a co-host method: " + truncate(call.Method, 40))
}

func cohostRequest(p *proto.CohostRequestParams, host cohost.Host) (cohostOp, error) {
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
	return func(c *cohost.Controller, actor string) (any, []cohost.Delivery, error) {
		if p.RoomID == actor {
			return nil, nil, cohost.ErrCohostSelf
		}
		reqID, ds, err := c.Request(actor, host, p.RoomID, timeout, p.ExtraInfo)
		return proto.CohostRequestResult{RequestID: reqID}, ds, err
	}, nil
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
