package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// CreateOptions is room.join's create part: an owner opening its room.
// Zero fields take the server's defaults.
type CreateOptions struct {
	MaxSeats int
	SeatMode proto.SeatMode
	// §11: the room's title, cover URL and app metadata ("" leaves unset).
	Title, Cover, Metadata string
}

// Join is room.join. An owner passes create to open the room (nil opens it
// with the server's defaults, or rejoins); everyone else passes nil. The
// snapshot also seeds the client's store.
func (c *Client) Join(ctx context.Context, create *CreateOptions) (proto.Snapshot, error) {
	var params proto.JoinParams
	if create != nil {
		params.Create = &proto.CreateParams{SeatMode: create.SeatMode,
			Title: optional(create.Title), Cover: optional(create.Cover), Metadata: optional(create.Metadata)}
		if create.MaxSeats != 0 {
			params.Create.MaxSeats = &create.MaxSeats
		}
	}
	var snap proto.Snapshot
	err := c.call(ctx, proto.MethodRoomJoin, params, &snap, c.onJoin)
	return snap, err
}

// Leave is room.leave (admins and audience; the owner must End). The socket
// stays open and may Join again; the store is emptied, since no more
// notifications of the room will come.
func (c *Client) Leave(ctx context.Context) error {
	return c.call(ctx, proto.MethodRoomLeave, nil, nil, func(json.RawMessage) { c.st = state{self: c.st.self} })
}

// End is room.end (the owner).
func (c *Client) End(ctx context.Context) error {
	return c.Call(ctx, proto.MethodRoomEnd, nil, nil)
}

// Members is one page of room.members. cursor "" starts; the returned
// cursor is "" at the end. limit is 1..100.
func (c *Client) Members(ctx context.Context, cursor string, limit int) ([]proto.User, string, error) {
	params := proto.MembersParams{Cursor: cursor}
	if limit != 0 {
		params.Limit = &limit
	}
	var res proto.MembersResult
	err := c.Call(ctx, proto.MethodRoomMembers, params, &res)
	return res.Members, res.NextCursor, err
}

// AllMembers pages through room.members until the end.
func (c *Client) AllMembers(ctx context.Context, pageSize int) ([]proto.User, error) {
	return allPages(ctx, pageSize, c.Members)
}

// SendMessage sends a text to everyone else in the room (≤ 1024 bytes).
func (c *Client) SendMessage(ctx context.Context, text string) error {
	return c.Call(ctx, proto.MethodRoomSendMessage, proto.MessageParams{Text: &text}, nil)
}

// SendCommand sends a custom command (cmd ≤ 64 bytes, data ≤ 4 KiB) to
// everyone else in the room.
func (c *Client) SendCommand(ctx context.Context, cmd, data string) error {
	return c.Call(ctx, proto.MethodRoomSendMessage, proto.MessageParams{Cmd: &cmd, Data: &data}, nil)
}

// KickOut is room.kickOut: removes userID from the room and bans it.
func (c *Client) KickOut(ctx context.Context, userID string) error {
	return c.Call(ctx, proto.MethodRoomKickOut, proto.UserParams{UserID: userID}, nil)
}

// timeoutSeconds turns a request timeout into the contract's whole seconds.
func timeoutSeconds(d time.Duration) (int, error) {
	if d < 0 || d%time.Second != 0 {
		return 0, fmt.Errorf("client: timeout %v is not a whole, non-negative number of seconds", d)
	}
	return int(d / time.Second), nil
}

// ApplyForSeat is seat.apply: ask the hosts for seatIndex (proto.NoSeat = any
// free seat). timeout is whole seconds, 0 for none. It returns the request
// id; the client's SelfRequest holds the application until it ends (its
// ExpiresAt is 0 on this side: only hosts learn it).
func (c *Client) ApplyForSeat(ctx context.Context, seatIndex int, timeout time.Duration, extraInfo string) (string, error) {
	secs, err := timeoutSeconds(timeout)
	if err != nil {
		return "", err
	}
	params := proto.RequestParams{SeatIndex: &seatIndex, Timeout: secs, ExtraInfo: extraInfo}
	var res proto.RequestIDResult
	err = c.call(ctx, proto.MethodSeatApply, params, &res, func(raw json.RawMessage) {
		var r proto.RequestIDResult
		if json.Unmarshal(raw, &r) != nil {
			return
		}
		c.st.selfRequest = &proto.Request{RequestID: r.RequestID, Kind: proto.KindApply, From: c.st.self,
			SeatIndex: seatIndex, ExtraInfo: extraInfo}
	})
	return res.RequestID, err
}

// CancelApplication withdraws this client's application.
func (c *Client) CancelApplication(ctx context.Context) error {
	return c.call(ctx, proto.MethodSeatCancelApplication, nil, nil, c.clearSelfRequest)
}

func (c *Client) clearSelfRequest(json.RawMessage) { c.st.selfRequest = nil }

// AcceptApplication lets userID on seat; it returns the seat it got. When the
// requested seat is taken or locked the call fails and the application
// stays pending.
func (c *Client) AcceptApplication(ctx context.Context, userID string) (int, error) {
	var res proto.SeatIndexResult
	err := c.call(ctx, proto.MethodSeatAcceptApplication, proto.UserParams{UserID: userID}, &res, func(json.RawMessage) {
		c.st.applicants = removeFrom(c.st.applicants, userID)
	})
	return res.SeatIndex, err
}

// RejectApplication turns userID's application down.
func (c *Client) RejectApplication(ctx context.Context, userID string) error {
	return c.call(ctx, proto.MethodSeatRejectApplication, proto.UserParams{UserID: userID}, nil, func(json.RawMessage) {
		c.st.applicants = removeFrom(c.st.applicants, userID)
	})
}

// InviteToSeat is seat.invite; it returns the request id and tracks the
// invitation in Invitees until it ends.
func (c *Client) InviteToSeat(ctx context.Context, userID string, seatIndex int, timeout time.Duration, extraInfo string) (string, error) {
	secs, err := timeoutSeconds(timeout)
	if err != nil {
		return "", err
	}
	params := proto.InviteParams{UserID: userID,
		RequestParams: proto.RequestParams{SeatIndex: &seatIndex, Timeout: secs, ExtraInfo: extraInfo}}
	var res proto.RequestIDResult
	err = c.call(ctx, proto.MethodSeatInvite, params, &res, func(raw json.RawMessage) {
		var r proto.RequestIDResult
		if json.Unmarshal(raw, &r) != nil {
			return
		}
		c.st.invitees = append(removeTo(c.st.invitees, userID), proto.Request{RequestID: r.RequestID,
			Kind: proto.KindInvite, From: c.st.self, To: &proto.User{UserID: userID},
			SeatIndex: seatIndex, ExtraInfo: extraInfo})
	})
	return res.RequestID, err
}

// CancelInvitation withdraws this client's invitation to userID.
func (c *Client) CancelInvitation(ctx context.Context, userID string) error {
	return c.call(ctx, proto.MethodSeatCancelInvitation, proto.UserParams{UserID: userID}, nil, func(json.RawMessage) {
		c.st.invitees = removeTo(c.st.invitees, userID)
	})
}

// AcceptInvitation takes the seat inviterID offered; it returns the seat.
func (c *Client) AcceptInvitation(ctx context.Context, inviterID string) (int, error) {
	var res proto.SeatIndexResult
	err := c.call(ctx, proto.MethodSeatAcceptInvitation, proto.InviterParams{InviterID: inviterID}, &res, c.clearSelfRequest)
	return res.SeatIndex, err
}

// RejectInvitation turns inviterID's invitation down.
func (c *Client) RejectInvitation(ctx context.Context, inviterID string) error {
	return c.call(ctx, proto.MethodSeatRejectInvitation, proto.InviterParams{InviterID: inviterID}, nil, c.clearSelfRequest)
}

// TakeSeat is seat.take (hosts any time; audience when the room's seat mode
// is free); it returns the seat taken.
func (c *Client) TakeSeat(ctx context.Context, seatIndex int) (int, error) {
	var res proto.SeatIndexResult
	err := c.Call(ctx, proto.MethodSeatTake, proto.SeatParams{SeatIndex: &seatIndex}, &res)
	return res.SeatIndex, err
}

// MoveSeat moves this guest to another free, unlocked seat.
func (c *Client) MoveSeat(ctx context.Context, seatIndex int) error {
	return c.Call(ctx, proto.MethodSeatMove, proto.SeatParams{SeatIndex: &seatIndex}, nil)
}

// LeaveSeat gives this guest's seat up (the client stays in the room).
func (c *Client) LeaveSeat(ctx context.Context) error {
	return c.Call(ctx, proto.MethodSeatLeave, nil, nil)
}

// KickUserOutOfSeat is seat.kick: userID loses its seat but stays in the
// room.
func (c *Client) KickUserOutOfSeat(ctx context.Context, userID string) error {
	return c.Call(ctx, proto.MethodSeatKick, proto.UserParams{UserID: userID}, nil)
}

// LockOptions is seat.lock's switches; nil fields are left unchanged.
type LockOptions struct {
	LockSeat, LockAudio, LockVideo *bool
}

// Bool returns a pointer to b, for LockOptions.
func Bool(b bool) *bool { return &b }

// LockSeat is seat.lock. Locking an occupied seat kicks its guest;
// LockAudio/LockVideo is the host's mute of that seat.
func (c *Client) LockSeat(ctx context.Context, seatIndex int, opts LockOptions) error {
	return c.Call(ctx, proto.MethodSeatLock, proto.LockParams{SeatIndex: &seatIndex,
		LockSeat: opts.LockSeat, LockAudio: opts.LockAudio, LockVideo: opts.LockVideo}, nil)
}

// SetMuted is media.setMuted for this guest's own seat.
func (c *Client) SetMuted(ctx context.Context, kind proto.MediaKind, muted bool) error {
	return c.Call(ctx, proto.MethodMediaSetMuted, proto.MuteParams{Kind: kind, Muted: &muted}, nil)
}

// Publish is rtc.publish: it sends a publish offer and returns the answer
// (which carries every server candidate).
func (c *Client) Publish(ctx context.Context, offerSDP string) (string, error) {
	var res proto.SDPResult
	err := c.Call(ctx, proto.MethodRTCPublish, proto.SDPParams{SDP: offerSDP}, &res)
	return res.SDP, err
}

// Slot is one seat slot of a subscription: the m-line mid carrying a kind
// of seat SeatIndex.
type Slot = proto.Slot

// Subscribe is rtc.subscribe: it sends a recvonly offer and returns the
// answer and its seat slots.
func (c *Client) Subscribe(ctx context.Context, offerSDP string) (string, []Slot, error) {
	var res proto.SubscribeResult
	err := c.Call(ctx, proto.MethodRTCSubscribe, proto.SDPParams{SDP: offerSDP}, &res)
	return res.SDP, res.Slots, err
}

// PeerConnection names one of the client's two peer connections.
type PeerConnection = proto.PeerConnection

const (
	PCPublish   = proto.PCPublish
	PCSubscribe = proto.PCSubscribe
)

// Candidate is an RTCIceCandidateInit; its JSON matches Pion's
// webrtc.ICECandidateInit field for field.
type Candidate = proto.Candidate

// AddCandidate is rtc.candidate: trickles one local candidate to the
// server's side of pc.
func (c *Client) AddCandidate(ctx context.Context, pc PeerConnection, cand Candidate) error {
	return c.Call(ctx, proto.MethodRTCCandidate, proto.CandidateParams{PC: pc, Candidate: &cand}, nil)
}
