package client

import (
	"encoding/json"
	"slices"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// Message is a room.message as listeners get it: a text, or a custom
// command with its data ("" where the wire has none).
type Message struct {
	From            *proto.User // nil: a system message from the server API (§11)
	Text, Cmd, Data string
}

func messageOf(m proto.RoomMessage) Message {
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return Message{From: m.From, Text: deref(m.Text), Cmd: deref(m.Cmd), Data: deref(m.Data)}
}

// Stats is room.stats's params.
type Stats = proto.RoomStats

// state is what the client knows of its room, CoGuestStore-style. The
// reader updates it (under Client.mu) from the join snapshot, from the
// results of its own calls and from notifications, in wire order.
type state struct {
	joined      bool
	info        proto.RoomInfo
	self        proto.User
	seats       []proto.Seat
	applicants  []proto.Request // hosts: pending applications
	invitees    []proto.Request // hosts: invitations this client sent, pending
	selfRequest *proto.Request  // audience: my pending application or invitation
	endReason   string
	co          cohostState // co-hosting and battles (cohost.go)
}

func (s *state) join(snap proto.Snapshot) {
	s.joined = true
	s.info = snap.Room
	s.self = snap.Self
	s.seats = slices.Clone(snap.Seats)
	s.applicants, s.invitees, s.selfRequest = nil, nil, nil
	for _, r := range snap.Requests {
		r := r
		switch {
		case s.self.Role.IsHost() && r.Kind == proto.KindApply:
			s.applicants = append(s.applicants, r)
		case s.self.Role.IsHost() && r.Kind == proto.KindInvite && r.From.UserID == s.self.UserID:
			s.invitees = append(s.invitees, r)
		case r.From.UserID == s.self.UserID || (r.To != nil && r.To.UserID == s.self.UserID):
			s.selfRequest = &r
		}
	}
}

// apply folds one notification into the state.
func (s *state) apply(ev Event) error {
	if done, err := s.co.apply(ev); done {
		return err
	}
	switch ev.Method {
	case MethodSeatChanged:
		v, err := Decode[proto.SeatChanged](ev)
		if err != nil {
			return err
		}
		s.seats = v.Seats
	case MethodRoomStats:
		v, err := Decode[Stats](ev)
		if err != nil {
			return err
		}
		s.info.MemberCount = v.MemberCount
	case MethodRoomEnded:
		v, err := Decode[proto.RoomEnded](ev)
		if err != nil {
			return err
		}
		s.endReason = v.Reason
		s.applicants, s.invitees, s.selfRequest = nil, nil, nil
	case MethodApplicationReceived:
		v, err := Decode[proto.ApplicationReceived](ev)
		if err != nil {
			return err
		}
		s.applicants = append(removeFrom(s.applicants, v.Request.From.UserID), v.Request)
	case MethodApplicationCancelled:
		v, err := Decode[proto.ApplicationCancelled](ev)
		if err != nil {
			return err
		}
		s.applicants = removeFrom(s.applicants, v.User.UserID)
	case MethodApplicationProcessedByOtherHost:
		v, err := Decode[proto.ApplicationProcessedByOtherHost](ev)
		if err != nil {
			return err
		}
		s.applicants = removeFrom(s.applicants, v.User.UserID)
	case MethodInvitationResponded:
		v, err := Decode[proto.InvitationResponded](ev)
		if err != nil {
			return err
		}
		s.invitees = removeTo(s.invitees, v.User.UserID)
	case MethodInvitationNoResponse:
		v, err := Decode[proto.InvitationNoResponse](ev)
		if err != nil {
			return err
		}
		s.invitees = removeTo(s.invitees, v.User.UserID)
	case MethodInvitationReceived:
		v, err := Decode[proto.InvitationReceived](ev)
		if err != nil {
			return err
		}
		r := v.Request
		s.selfRequest = &r
	case MethodApplicationResponded, MethodApplicationNoResponse, MethodInvitationCancelled:
		s.selfRequest = nil
	case MethodRoomUpdated, MethodRoleChanged:
		return s.applyRooms(ev) // rooms.go
	}
	return nil
}

func removeFrom(rs []proto.Request, userID string) []proto.Request {
	return slices.DeleteFunc(rs, func(r proto.Request) bool { return r.From.UserID == userID })
}

func removeTo(rs []proto.Request, userID string) []proto.Request {
	return slices.DeleteFunc(rs, func(r proto.Request) bool { return r.To != nil && r.To.UserID == userID })
}

// onOK helpers: store updates for a call's success, run by the reader.

func (c *Client) onJoin(result json.RawMessage) {
	var snap proto.Snapshot
	if err := json.Unmarshal(result, &snap); err != nil {
		c.logger.Warn("room.join result with unexpected shape", "err", err)
		return
	}
	c.st.join(snap)
	c.st.co.join(result)
	c.onJoinRTC(result)
}

// --- the store's read side ---

// Self is the user this client joined as (zero before Join).
func (c *Client) Self() proto.User {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.self
}

// Room is the room part of the last snapshot, with the member count kept
// current by room.stats.
func (c *Client) Room() proto.RoomInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.info
}

// MemberCount is the room's member count as last reported.
func (c *Client) MemberCount() int { return c.Room().MemberCount }

// Seats returns every seat (maxSeats entries) as last reported.
func (c *Client) Seats() []proto.Seat {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cloneSeats(c.st.seats)
}

// Connected returns the occupied seats (CoGuestStore's connected list), the
// owner's included.
func (c *Client) Connected() []proto.Seat {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []proto.Seat
	for _, s := range c.st.seats {
		if s.User != nil {
			out = append(out, cloneSeat(s))
		}
	}
	return out
}

// SeatOf returns the seat index userID holds, or proto.NoSeat.
func (c *Client) SeatOf(userID string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.st.seats {
		if s.User != nil && s.User.UserID == userID {
			return s.Index
		}
	}
	return proto.NoSeat
}

// SelfSeat returns the seat this client holds, or proto.NoSeat.
func (c *Client) SelfSeat() int { return c.SeatOf(c.Self().UserID) }

// Joined reports whether the client is in its room: Join succeeded, and
// neither Leave nor the room's end came since.
func (c *Client) Joined() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.joined && c.st.endReason == ""
}

// Applicants returns the pending applications (hosts only; empty for the
// audience).
func (c *Client) Applicants() []proto.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.st.applicants)
}

// Invitees returns the invitations this client sent that are still pending
// (hosts only).
func (c *Client) Invitees() []proto.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.st.invitees)
}

// SelfRequest returns this client's pending application or the invitation
// it received, if any (audience side).
func (c *Client) SelfRequest() (proto.Request, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st.selfRequest == nil {
		return proto.Request{}, false
	}
	return *c.st.selfRequest, true
}

// EndReason is room.ended's reason once the room has ended, else "".
func (c *Client) EndReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.endReason
}

func cloneSeats(ss []proto.Seat) []proto.Seat {
	out := make([]proto.Seat, len(ss))
	for i, s := range ss {
		out[i] = cloneSeat(s)
	}
	return out
}

func cloneSeat(s proto.Seat) proto.Seat {
	if s.User != nil {
		u := *s.User
		s.User = &u
	}
	return s
}
