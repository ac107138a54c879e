package signal

import (
	"encoding/json"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// method is one JSON-RPC method: a strict params decoder and the action.
// Decoding is separate so the fuzz target can drive every decoder without a
// room.
type method struct {
	decode func(json.RawMessage) (any, *seat.Error)
	run    func(s *session, id json.RawMessage, params any) (any, error)
}

// bind ties a params type to its action.
func bind[P any](run func(s *session, id json.RawMessage, p *P) (any, error)) method {
	return method{
		decode: func(raw json.RawMessage) (any, *seat.Error) {
			p := new(P)
			if err := decodeParams(raw, p); err != nil {
				return nil, err
			}
			return p, nil
		},
		run: func(s *session, id json.RawMessage, p any) (any, error) { return run(s, id, p.(*P)) },
	}
}

// seatOp binds a method that is one seat operation answering {}.
func seatOp[P any](op func(s *session, r *seat.Room, p *P) ([]seat.Delivery, error)) method {
	return bind(func(s *session, id json.RawMessage, p *P) (any, error) {
		return s.do(id, func(r *seat.Room) (any, []seat.Delivery, error) {
			ds, err := op(s, r, p)
			return nil, ds, err
		})
	})
}

// do runs one seat operation and, when it succeeds, queues its answer under
// the room's lock, before the notifications it causes: a client always
// learns the outcome of its call before its consequences (room.end's answer
// before room.ended and the close, for instance).
func (s *session) do(id json.RawMessage, op func(r *seat.Room) (any, []seat.Delivery, error)) (any, error) {
	err := s.room.Do(func(r *seat.Room) ([]seat.Delivery, error) {
		res, ds, err := op(r)
		if err != nil {
			return nil, err
		}
		s.srv.persist(r) // cluster.go: the answer follows its state into Redis
		s.respond(id, res)
		return ds, nil
	})
	if err != nil {
		return nil, err
	}
	return answered{}, nil
}

// methods is every method of PROTOCOL.md §3.2.
var methods map[string]method

func init() {
	methods = map[string]method{
		proto.MethodRoomJoin:        bind(joinRoom),
		proto.MethodRoomLeave:       bind(leaveRoom),
		proto.MethodRoomEnd:         seatOp(func(s *session, r *seat.Room, _ *proto.Empty) ([]seat.Delivery, error) { return r.End(s.user.UserID) }),
		proto.MethodRoomMembers:     bind(listMembers),
		proto.MethodRoomSendMessage: bind(sendMessage),
		proto.MethodRoomKickOut: seatOp(func(s *session, r *seat.Room, p *proto.UserParams) ([]seat.Delivery, error) {
			return r.KickOut(s.user.UserID, p.UserID)
		}),

		proto.MethodSeatApply: bind(func(s *session, id json.RawMessage, p *proto.RequestParams) (any, error) {
			return s.do(id, func(r *seat.Room) (any, []seat.Delivery, error) {
				req, ds, err := r.Apply(s.user.UserID, *p.SeatIndex, p.Timeout, p.ExtraInfo)
				return proto.RequestIDResult{RequestID: req}, ds, err
			})
		}),
		proto.MethodSeatCancelApplication: seatOp(func(s *session, r *seat.Room, _ *proto.Empty) ([]seat.Delivery, error) {
			return r.CancelApplication(s.user.UserID)
		}),
		proto.MethodSeatAcceptApplication: bind(func(s *session, id json.RawMessage, p *proto.UserParams) (any, error) {
			return s.do(id, func(r *seat.Room) (any, []seat.Delivery, error) {
				index, ds, err := r.AcceptApplication(s.user.UserID, p.UserID)
				return proto.SeatIndexResult{SeatIndex: index}, ds, err
			})
		}),
		proto.MethodSeatRejectApplication: seatOp(func(s *session, r *seat.Room, p *proto.UserParams) ([]seat.Delivery, error) {
			return r.RejectApplication(s.user.UserID, p.UserID)
		}),
		proto.MethodSeatInvite: bind(func(s *session, id json.RawMessage, p *proto.InviteParams) (any, error) {
			return s.do(id, func(r *seat.Room) (any, []seat.Delivery, error) {
				req, ds, err := r.Invite(s.user.UserID, p.UserID, *p.SeatIndex, p.Timeout, p.ExtraInfo)
				return proto.RequestIDResult{RequestID: req}, ds, err
			})
		}),
		proto.MethodSeatCancelInvitation: seatOp(func(s *session, r *seat.Room, p *proto.UserParams) ([]seat.Delivery, error) {
			return r.CancelInvitation(s.user.UserID, p.UserID)
		}),
		proto.MethodSeatAcceptInvitation: bind(func(s *session, id json.RawMessage, p *proto.InviterParams) (any, error) {
			return s.do(id, func(r *seat.Room) (any, []seat.Delivery, error) {
				index, ds, err := r.AcceptInvitation(s.user.UserID, p.InviterID)
				return proto.SeatIndexResult{SeatIndex: index}, ds, err
			})
		}),
		proto.MethodSeatRejectInvitation: seatOp(func(s *session, r *seat.Room, p *proto.InviterParams) ([]seat.Delivery, error) {
			return r.RejectInvitation(s.user.UserID, p.InviterID)
		}),
		proto.MethodSeatTake: bind(func(s *session, id json.RawMessage, p *proto.SeatParams) (any, error) {
			return s.do(id, func(r *seat.Room) (any, []seat.Delivery, error) {
				index, ds, err := r.Take(s.user.UserID, *p.SeatIndex)
				return proto.SeatIndexResult{SeatIndex: index}, ds, err
			})
		}),
		proto.MethodSeatMove: seatOp(func(s *session, r *seat.Room, p *proto.SeatParams) ([]seat.Delivery, error) {
			return r.Move(s.user.UserID, *p.SeatIndex)
		}),
		proto.MethodSeatLeave: seatOp(func(s *session, r *seat.Room, _ *proto.Empty) ([]seat.Delivery, error) {
			return r.LeaveSeat(s.user.UserID)
		}),
		proto.MethodSeatKick: seatOp(func(s *session, r *seat.Room, p *proto.UserParams) ([]seat.Delivery, error) {
			return r.Kick(s.user.UserID, p.UserID)
		}),
		proto.MethodSeatLock: seatOp(func(s *session, r *seat.Room, p *proto.LockParams) ([]seat.Delivery, error) {
			return r.Lock(s.user.UserID, *p.SeatIndex, p.LockSeat, p.LockAudio, p.LockVideo)
		}),
		proto.MethodMediaSetMuted: seatOp(func(s *session, r *seat.Room, p *proto.MuteParams) ([]seat.Delivery, error) {
			return r.SetMuted(s.user.UserID, seat.Kind(p.Kind), *p.Muted)
		}),

		proto.MethodRoomUpdate: seatOp(updateRoom), // room_update.go

		proto.MethodRTCPublish:    bind(publish),
		proto.MethodRTCSubscribe:  bind(subscribe),
		proto.MethodRTCCandidate:  bind(addCandidate),
		proto.MethodRTCSetQuality: bind(setQuality), // rtcquality.go
	}
	registerLimitMethods(methods)
	addCohostMethods(methods) // PROTOCOL.md §10 (cohost_methods.go)
}

// --- the limits of the params (PROTOCOL.md §3.2) that JSON's types cannot say ---

// check refuses params that decode but break a limit; p is a pointer to one
// of proto's params types.
func check(p any) error {
	switch p := p.(type) {
	case *proto.JoinParams:
		return checkJoin(p)
	case *proto.UserParams:
		return needID("userId", p.UserID)
	case *proto.InviterParams:
		return needID("inviterId", p.InviterID)
	case *proto.SeatParams:
		return needSeat(p.SeatIndex)
	case *proto.RequestParams:
		return checkRequest(p)
	case *proto.InviteParams:
		if err := needID("userId", p.UserID); err != nil {
			return err
		}
		return checkRequest(&p.RequestParams)
	case *proto.LockParams:
		return needSeat(p.SeatIndex)
	case *proto.MuteParams:
		return checkMute(p)
	case *proto.MembersParams:
		if p.Limit != nil && (*p.Limit < 1 || *p.Limit > 100) {
			return invalidParams("limit must be 1..100")
		}
	case *proto.MessageParams:
		return checkMessage(p)
	case *proto.RoomUpdateParams:
		return checkUpdate(p)
	case *proto.SDPParams:
		if p.SDP == "" {
			return invalidParams("sdp is required")
		}
	case *proto.SeatRequestsParams:
		return checkRequestsPage(p) // requests.go
	case *proto.SessionRefreshParams:
		return checkRefresh(p) // expiry.go
	case *proto.SetQualityParams:
		return checkQuality(p) // rtcquality.go
	case *proto.CandidateParams:
		if p.PC != proto.PCPublish && p.PC != proto.PCSubscribe {
			return invalidParams(`pc must be "publish" or "subscribe"`)
		}
		if p.Candidate == nil {
			return invalidParams("candidate is required")
		}
	}
	return nil
}

func checkJoin(p *proto.JoinParams) error {
	if p.Create == nil {
		return nil
	}
	if m := p.Create.MaxSeats; m != nil && (*m < seat.MinSeats || *m > seat.MaxSeatsLimit) {
		return invalidParams("create.maxSeats must be 2..16")
	}
	switch seat.Mode(p.Create.SeatMode) {
	case "", seat.ModeApply, seat.ModeFree:
		return nil
	}
	return invalidParams(`create.seatMode must be "apply" or "free"`)
}

func checkRequest(p *proto.RequestParams) error {
	if err := needSeat(p.SeatIndex); err != nil {
		return err
	}
	if p.Timeout < 0 || p.Timeout > seat.MaxTimeout {
		return invalidParams("timeout must be 0..86400 seconds")
	}
	if len(p.ExtraInfo) > seat.MaxExtraInfo {
		return invalidParams("extraInfo is over 1 KiB")
	}
	return nil
}

func checkMute(p *proto.MuteParams) error {
	if k := seat.Kind(p.Kind); k != seat.KindAudio && k != seat.KindVideo {
		return invalidParams(`kind must be "audio" or "video"`)
	}
	if p.Muted == nil {
		return invalidParams("muted is required")
	}
	return nil
}

// Limits of room.sendMessage (PROTOCOL.md §3.2).
const (
	maxText = 1024
	maxCmd  = 64
	maxData = 4 << 10
	// messageRate/messageBurst: the 5 messages a second a user may send.
	messageRate  = 5
	messageBurst = 5
)

func checkMessage(p *proto.MessageParams) error {
	switch {
	case p.Text != nil && (p.Cmd != nil || p.Data != nil):
		return invalidParams("send text or cmd+data, not both")
	case p.Text != nil:
		if *p.Text == "" || len(*p.Text) > maxText {
			return invalidParams("text must be 1..1024 bytes")
		}
	case p.Cmd != nil:
		if *p.Cmd == "" || len(*p.Cmd) > maxCmd {
			return invalidParams("cmd must be 1..64 bytes")
		}
		if p.Data != nil && len(*p.Data) > maxData {
			return invalidParams("data is over 4 KiB")
		}
	default:
		return invalidParams("text or cmd is required")
	}
	return nil
}

func needID(field, v string) error {
	if v == "" {
		return invalidParams(field + " is required")
	}
	if len(v) > 128 {
		return invalidParams(field + " is too long")
	}
	return nil
}

func needSeat(i *int) error {
	if i == nil {
		return invalidParams("seatIndex is required")
	}
	return nil
}

// --- actions that are more than one seat operation ---

func joinRoom(s *session, id json.RawMessage, p *proto.JoinParams) (any, error) {
	if s.joined {
		return nil, errAlreadyJoined
	}
	start := time.Now()
	room, hub, err := s.srv.openOrFind(s.user, s.roomID, p.Create)
	if err != nil {
		return nil, err
	}
	err = room.Do(func(r *seat.Room) ([]seat.Delivery, error) {
		snap, ds, err := r.Join(s.user)
		if err != nil {
			return nil, err
		}
		// Under the room's lock: the snapshot goes out before any
		// notification that follows it, and from now on this socket gets
		// every notification — nothing falls between the two.
		s.srv.persist(r) // cluster.go: the snapshot follows its state into Redis
		hub.attachThen(s, func() {
			s.respond(id, hub.joinedSnapshot(withRTC(wireSnapshot(snap), s.rtcInfo()), s.user.Role == seat.RoleOwner))
		})
		return ds, nil
	})
	if err != nil {
		return nil, err
	}
	s.joined, s.room, s.hub = true, room, hub
	s.joinedOnce()
	hub.markStats()
	s.srv.metrics.joinDuration.Observe(time.Since(start).Seconds())
	return answered{}, nil
}

func leaveRoom(s *session, id json.RawMessage, _ *proto.Empty) (any, error) {
	res, err := s.do(id, func(r *seat.Room) (any, []seat.Delivery, error) {
		ds, err := r.Leave(s.user.UserID)
		if err == nil {
			s.hub.detach(s)
		}
		return nil, ds, err
	})
	if err != nil {
		return nil, err
	}
	// The socket stays open but speaks for nobody: it may join again.
	s.joined = false
	s.closePeers()
	s.hub.markStats()
	return res, nil
}

func listMembers(s *session, _ json.RawMessage, p *proto.MembersParams) (any, error) {
	limit := 100
	if p.Limit != nil {
		limit = *p.Limit
	}
	var members []seat.User
	var res proto.MembersResult
	err := s.room.Do(func(r *seat.Room) (_ []seat.Delivery, err error) {
		members, res.NextCursor, err = r.Members(s.user.UserID, p.Cursor, limit)
		return nil, err
	})
	res.Members = make([]proto.User, 0, len(members))
	for _, u := range members {
		res.Members = append(res.Members, wireUser(u))
	}
	return res, err
}

func sendMessage(s *session, id json.RawMessage, p *proto.MessageParams) (any, error) {
	if !s.messages.AllowN(s.srv.now(), 1) {
		s.srv.caps.refused(limitMessageRate)
		return nil, withMessage(errRateLimited, "at most 5 messages a second")
	}
	from := wireUser(s.user)
	msg := proto.RoomMessage{From: &from, Text: p.Text, Cmd: p.Cmd, Data: p.Data}
	if p.Cmd != nil && p.Data == nil {
		none := ""
		msg.Data = &none
	}
	// Through the room's lock like every notification, so a member whose
	// room.join was answered gets every message sent after it.
	return s.do(id, func(r *seat.Room) (any, []seat.Delivery, error) {
		if r.ChatMuted(s.user.UserID) {
			return nil, nil, errChatMuted // the server API muted this user (§11)
		}
		if u, ok := r.Member(s.user.UserID); ok {
			now := wireUser(u) // its role now, which the server API may have changed
			msg.From = &now
		}
		return nil, []seat.Delivery{{To: seat.Everyone, Except: s.user.UserID, Event: msg}}, nil
	})
}

func publish(s *session, _ json.RawMessage, p *proto.SDPParams) (any, error) {
	peer, answer, err := s.room.Publish(s.user.UserID, p.SDP, s.layersHook())
	if err != nil {
		return nil, err
	}
	if s.pub != nil {
		_ = s.pub.Close()
	}
	s.pub = peer
	return proto.SDPResult{SDP: answer}, nil
}

func subscribe(s *session, _ json.RawMessage, p *proto.SDPParams) (any, error) {
	if !s.srv.caps.admitSubscriber() {
		return nil, withMessage(errOverloaded, "the server has its maximum of subscriptions")
	}
	peer, answer, slots, err := s.room.Subscribe(s.user.UserID, p.SDP, 0, s.qualityHook())
	if err != nil {
		s.srv.caps.releaseSubscriber()
		return nil, err
	}
	s.srv.holdSubscription(peer)
	if s.sub != nil {
		_ = s.sub.Close()
	}
	s.sub = peer
	res := proto.SubscribeResult{SDP: answer, Slots: make([]proto.Slot, 0, len(slots))}
	for _, sl := range slots {
		res.Slots = append(res.Slots, proto.Slot(sl))
	}
	return res, nil
}

func addCandidate(s *session, _ json.RawMessage, p *proto.CandidateParams) (any, error) {
	peer := s.pub
	if p.PC == proto.PCSubscribe {
		peer = s.sub
	}
	if peer == nil {
		return nil, invalidParams("no " + string(p.PC) + " connection: send the offer first")
	}
	if err := peer.AddCandidate(webrtc.ICECandidateInit(*p.Candidate)); err != nil {
		return nil, invalidParams("candidate: " + truncate(err.Error(), 200))
	}
	return nil, nil
}
