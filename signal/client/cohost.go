package client

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// Co-hosting and battles (PROTOCOL.md §10), in the CoGuestStore style of
// the seat API: calls, a store kept current in wire order, and listeners.
// The owner calls; every member's store and listeners see the connection
// and the battle.

// RequestCohost is cohost.request: ask roomID's owner to connect. timeout
// is whole seconds 1..60 (0: the server's 10 s). The request stays in
// SentCohostRequests until it ends.
func (c *Client) RequestCohost(ctx context.Context, roomID string, timeout time.Duration, extraInfo string) (string, error) {
	secs, err := timeoutSeconds(timeout)
	if err != nil {
		return "", err
	}
	p := proto.CohostRequestParams{RoomID: roomID, ExtraInfo: extraInfo}
	if secs > 0 {
		p.Timeout = &secs
	}
	var res proto.CohostRequestResult
	err = c.call(ctx, proto.MethodCohostRequest, p, &res, func(raw json.RawMessage) {
		var r proto.CohostRequestResult
		if json.Unmarshal(raw, &r) == nil {
			c.st.co.sent = append(c.st.co.sent, r.RequestID)
		}
	})
	return res.RequestID, err
}

// CancelCohostRequest is cohost.cancel of a request this room sent.
func (c *Client) CancelCohostRequest(ctx context.Context, requestID string) error {
	return c.cohostAnswer(ctx, proto.MethodCohostCancel, requestID)
}

// AcceptCohostRequest is cohost.accept of a request to this room: the rooms
// join one connection (cohost.changed follows).
func (c *Client) AcceptCohostRequest(ctx context.Context, requestID string) error {
	return c.cohostAnswer(ctx, proto.MethodCohostAccept, requestID)
}

// RejectCohostRequest is cohost.reject of a request to this room.
func (c *Client) RejectCohostRequest(ctx context.Context, requestID string) error {
	return c.cohostAnswer(ctx, proto.MethodCohostReject, requestID)
}

func (c *Client) cohostAnswer(ctx context.Context, method, requestID string) error {
	return c.call(ctx, method, proto.CohostRequestIDParams{RequestID: requestID}, nil,
		func(json.RawMessage) { c.st.co.forget(requestID) })
}

// LeaveCohost is cohost.leave: this room leaves its connection.
func (c *Client) LeaveCohost(ctx context.Context) error {
	return c.Call(ctx, proto.MethodCohostLeave, nil, nil)
}

// StartBattle is battle.start for whole seconds 10..3600; every room of the
// connection takes part. It returns the battle id the app's backend scores.
func (c *Client) StartBattle(ctx context.Context, duration time.Duration) (string, error) {
	secs, err := timeoutSeconds(duration)
	if err != nil {
		return "", fmt.Errorf("client: battle duration: %w", err)
	}
	var res proto.BattleStartResult
	err = c.Call(ctx, proto.MethodBattleStart, proto.BattleStartParams{Duration: secs}, &res)
	return res.BattleID, err
}

// StopBattle is battle.stop.
func (c *Client) StopBattle(ctx context.Context) error {
	return c.Call(ctx, proto.MethodBattleStop, nil, nil)
}

// The refusals of §10 (compare with errors.Is).
var (
	ErrCohostSelf       = &Error{Code: 100500, Reason: "cohost_self"}
	ErrCohostBusy       = &Error{Code: 100501, Reason: "cohost_busy"}
	ErrAlreadyConnected = &Error{Code: 100502, Reason: "already_connected"}
	ErrNotConnected     = &Error{Code: 100503, Reason: "not_connected"}
	ErrBattleRunning    = &Error{Code: 100504, Reason: "battle_running"}
	ErrBattleNotRunning = &Error{Code: 100505, Reason: "battle_not_running"}
)

// --- the store ---

// cohostState is the co-host part of the store; guarded by Client.mu.
type cohostState struct {
	rooms    []proto.CohostRoom    // the connection, this room included; nil: none
	battle   *proto.BattleState    // the running battle
	received []proto.CohostRequest // owner: pending requests to this room
	sent     []string              // owner: pending requests this room sent
}

func (s *cohostState) join(result json.RawMessage) {
	var snap proto.CohostSnapshot
	_ = json.Unmarshal(result, &snap) // a server without §10 sends none of it
	*s = cohostState{rooms: snap.Cohost, battle: snap.Battle, received: snap.CohostRequests}
	if len(s.rooms) == 0 {
		s.rooms = nil
	}
	for _, r := range snap.CohostSent {
		s.sent = append(s.sent, r.RequestID)
	}
}

func (s *cohostState) forget(requestID string) {
	s.received = slices.DeleteFunc(s.received, func(r proto.CohostRequest) bool { return r.RequestID == requestID })
	s.sent = slices.DeleteFunc(s.sent, func(id string) bool { return id == requestID })
}

// apply folds a §10 notification into the store; false for any other.
func (s *cohostState) apply(ev Event) (bool, error) {
	switch ev.Method {
	case proto.NoteCohostRequestReceived:
		v, err := Decode[proto.CohostRequestReceived](ev)
		// A socket that joins while the request is being made gets it in
		// its snapshot and may get the notification too: keep it once.
		if err == nil && !slices.ContainsFunc(s.received, func(r proto.CohostRequest) bool { return r.RequestID == v.Request.RequestID }) {
			s.received = append(s.received, v.Request)
		}
		return true, err
	case proto.NoteCohostRequestCancelled:
		v, err := Decode[proto.CohostRequestCancelled](ev)
		if err == nil {
			s.forget(v.RequestID)
		}
		return true, err
	case proto.NoteCohostRequestResponded:
		v, err := Decode[proto.CohostRequestResponded](ev)
		if err == nil {
			s.forget(v.RequestID)
		}
		return true, err
	case proto.NoteCohostChanged:
		v, err := Decode[proto.CohostChanged](ev)
		if err == nil {
			s.rooms = v.Rooms
			if len(v.Rooms) == 0 {
				s.rooms, s.battle = nil, nil
			}
		}
		return true, err
	case proto.NoteBattleStarted:
		v, err := Decode[proto.BattleStarted](ev)
		if err == nil {
			scores := map[string]int64{}
			for _, r := range v.Rooms {
				scores[r] = 0
			}
			s.battle = &proto.BattleState{BattleID: v.BattleID, Rooms: v.Rooms, EndsAt: v.EndsAt, Scores: scores}
		}
		return true, err
	case proto.NoteBattleScores:
		v, err := Decode[proto.BattleScores](ev)
		if err == nil && s.battle != nil && s.battle.BattleID == v.BattleID {
			s.battle.Scores = v.Scores
		}
		return true, err
	case proto.NoteBattleEnded:
		s.battle = nil
		return true, nil
	case MethodRoomEnded:
		*s = cohostState{}
	}
	return false, nil
}

// CohostRooms is the room's co-host connection, this room included, in the
// order of cohost.changed; nil when it is in none.
func (c *Client) CohostRooms() []proto.CohostRoom {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.st.co.rooms)
}

// Battle is the running battle of the room's connection, with its scores as
// last reported.
func (c *Client) Battle() (proto.BattleState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.st.co.battle
	if b == nil {
		return proto.BattleState{}, false
	}
	out := *b
	out.Rooms = slices.Clone(b.Rooms)
	out.Scores = make(map[string]int64, len(b.Scores))
	for k, v := range b.Scores {
		out.Scores[k] = v
	}
	return out, true
}

// CohostRequests is the pending co-host requests to this room (owner),
// oldest first.
func (c *Client) CohostRequests() []proto.CohostRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.st.co.received)
}

// SentCohostRequests is the ids of this room's pending co-host requests
// (owner), oldest first.
func (c *Client) SentCohostRequests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.st.co.sent)
}

// --- listeners ---

// CohostListener hears §10's notifications: the request ones reach the
// owner, the connection and battle ones every member. Embed
// NopCohostListener to implement only some of it.
type CohostListener interface {
	OnCohostRequestReceived(req proto.CohostRequest)
	// reason: cancelled, timeout, room_ended.
	OnCohostRequestCancelled(requestID, reason string)
	OnCohostRequestResponded(requestID string, accepted bool)
	// rooms is empty when the connection ended for this room.
	OnCohostChanged(rooms []proto.CohostRoom)
	OnBattleStarted(ev proto.BattleStarted)
	OnBattleScores(ev proto.BattleScores)
	OnBattleEnded(ev proto.BattleEnded)
}

// NopCohostListener implements CohostListener with no-ops.
type NopCohostListener struct{}

func (NopCohostListener) OnCohostRequestReceived(proto.CohostRequest) {}
func (NopCohostListener) OnCohostRequestCancelled(string, string)     {}
func (NopCohostListener) OnCohostRequestResponded(string, bool)       {}
func (NopCohostListener) OnCohostChanged([]proto.CohostRoom)          {}
func (NopCohostListener) OnBattleStarted(proto.BattleStarted)         {}
func (NopCohostListener) OnBattleScores(proto.BattleScores)           {}
func (NopCohostListener) OnBattleEnded(proto.BattleEnded)             {}

// AddCohostListener registers l; the returned func removes it. Its calls
// come on the dispatcher, in notification order, after the store changed.
func (c *Client) AddCohostListener(l CohostListener) (remove func()) {
	return c.OnEvent(func(ev Event) {
		bad := func(err error) {
			c.logger.Warn("notification with unexpected params", "method", ev.Method, "err", err)
		}
		switch ev.Method {
		case proto.NoteCohostRequestReceived:
			if v, err := Decode[proto.CohostRequestReceived](ev); err != nil {
				bad(err)
			} else {
				l.OnCohostRequestReceived(v.Request)
			}
		case proto.NoteCohostRequestCancelled:
			if v, err := Decode[proto.CohostRequestCancelled](ev); err != nil {
				bad(err)
			} else {
				l.OnCohostRequestCancelled(v.RequestID, v.Reason)
			}
		case proto.NoteCohostRequestResponded:
			if v, err := Decode[proto.CohostRequestResponded](ev); err != nil {
				bad(err)
			} else {
				l.OnCohostRequestResponded(v.RequestID, v.Accepted)
			}
		case proto.NoteCohostChanged:
			if v, err := Decode[proto.CohostChanged](ev); err != nil {
				bad(err)
			} else {
				l.OnCohostChanged(v.Rooms)
			}
		case proto.NoteBattleStarted:
			if v, err := Decode[proto.BattleStarted](ev); err != nil {
				bad(err)
			} else {
				l.OnBattleStarted(v)
			}
		case proto.NoteBattleScores:
			if v, err := Decode[proto.BattleScores](ev); err != nil {
				bad(err)
			} else {
				l.OnBattleScores(v)
			}
		case proto.NoteBattleEnded:
			if v, err := Decode[proto.BattleEnded](ev); err != nil {
				bad(err)
			} else {
				l.OnBattleEnded(v)
			}
		}
	})
}
