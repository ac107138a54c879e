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
		s.respond(id, res)
		return ds, nil
	})
	if err != nil {
		return nil, err
	}
	return answered{}, nil
}

// methods is every method of CONTRACT §3.2.
var methods map[string]method

func init() {
	methods = map[string]method{
		"room.join":        bind(joinRoom),
		"room.leave":       bind(leaveRoom),
		"room.end":         seatOp(func(s *session, r *seat.Room, _ *noParams) ([]seat.Delivery, error) { return r.End(s.user.UserID) }),
		"room.members":     bind(listMembers),
		"room.sendMessage": bind(sendMessage),
		"room.kickOut": seatOp(func(s *session, r *seat.Room, p *userParams) ([]seat.Delivery, error) {
			return r.KickOut(s.user.UserID, p.UserID)
		}),

		"seat.apply": bind(func(s *session, id json.RawMessage, p *requestParams) (any, error) {
			return s.do(id, func(r *seat.Room) (any, []seat.Delivery, error) {
				req, ds, err := r.Apply(s.user.UserID, *p.SeatIndex, p.Timeout, p.ExtraInfo)
				return requestIDResult{req}, ds, err
			})
		}),
		"seat.cancelApplication": seatOp(func(s *session, r *seat.Room, _ *noParams) ([]seat.Delivery, error) {
			return r.CancelApplication(s.user.UserID)
		}),
		"seat.acceptApplication": bind(func(s *session, id json.RawMessage, p *userParams) (any, error) {
			return s.do(id, func(r *seat.Room) (any, []seat.Delivery, error) {
				index, ds, err := r.AcceptApplication(s.user.UserID, p.UserID)
				return seatIndexResult{index}, ds, err
			})
		}),
		"seat.rejectApplication": seatOp(func(s *session, r *seat.Room, p *userParams) ([]seat.Delivery, error) {
			return r.RejectApplication(s.user.UserID, p.UserID)
		}),
		"seat.invite": bind(func(s *session, id json.RawMessage, p *inviteParams) (any, error) {
			return s.do(id, func(r *seat.Room) (any, []seat.Delivery, error) {
				req, ds, err := r.Invite(s.user.UserID, p.UserID, *p.SeatIndex, p.Timeout, p.ExtraInfo)
				return requestIDResult{req}, ds, err
			})
		}),
		"seat.cancelInvitation": seatOp(func(s *session, r *seat.Room, p *userParams) ([]seat.Delivery, error) {
			return r.CancelInvitation(s.user.UserID, p.UserID)
		}),
		"seat.acceptInvitation": bind(func(s *session, id json.RawMessage, p *inviterParams) (any, error) {
			return s.do(id, func(r *seat.Room) (any, []seat.Delivery, error) {
				index, ds, err := r.AcceptInvitation(s.user.UserID, p.InviterID)
				return seatIndexResult{index}, ds, err
			})
		}),
		"seat.rejectInvitation": seatOp(func(s *session, r *seat.Room, p *inviterParams) ([]seat.Delivery, error) {
			return r.RejectInvitation(s.user.UserID, p.InviterID)
		}),
		"seat.take": bind(func(s *session, id json.RawMessage, p *seatParams) (any, error) {
			return s.do(id, func(r *seat.Room) (any, []seat.Delivery, error) {
				index, ds, err := r.Take(s.user.UserID, *p.SeatIndex)
				return seatIndexResult{index}, ds, err
			})
		}),
		"seat.move": seatOp(func(s *session, r *seat.Room, p *seatParams) ([]seat.Delivery, error) {
			return r.Move(s.user.UserID, *p.SeatIndex)
		}),
		"seat.leave": seatOp(func(s *session, r *seat.Room, _ *noParams) ([]seat.Delivery, error) {
			return r.LeaveSeat(s.user.UserID)
		}),
		"seat.kick": seatOp(func(s *session, r *seat.Room, p *userParams) ([]seat.Delivery, error) {
			return r.Kick(s.user.UserID, p.UserID)
		}),
		"seat.lock": seatOp(func(s *session, r *seat.Room, p *lockParams) ([]seat.Delivery, error) {
			return r.Lock(s.user.UserID, *p.SeatIndex, p.LockSeat, p.LockAudio, p.LockVideo)
		}),
		"media.setMuted": seatOp(func(s *session, r *seat.Room, p *muteParams) ([]seat.Delivery, error) {
			return r.SetMuted(s.user.UserID, seat.Kind(p.Kind), *p.Muted)
		}),

		"rtc.publish":             bind(publish),
		"rtc.subscribe":           bind(subscribe),
		"rtc.candidate":           bind(addCandidate),
		proto.MethodRTCSetQuality: bind(setQuality),
	}
}

// --- params ---

type noParams struct{}

type createParams struct {
	MaxSeats *int      `json:"maxSeats"`
	SeatMode seat.Mode `json:"seatMode"`
}

type joinParams struct {
	Create *createParams `json:"create"`
}

func (p *joinParams) validate() error {
	if p.Create == nil {
		return nil
	}
	if m := p.Create.MaxSeats; m != nil && (*m < seat.MinSeats || *m > seat.MaxSeatsLimit) {
		return invalidParams("create.maxSeats must be 2..16")
	}
	switch p.Create.SeatMode {
	case "", seat.ModeApply, seat.ModeFree:
		return nil
	}
	return invalidParams(`create.seatMode must be "apply" or "free"`)
}

type userParams struct {
	UserID string `json:"userId"`
}

func (p *userParams) validate() error { return needID("userId", p.UserID) }

type inviterParams struct {
	InviterID string `json:"inviterId"`
}

func (p *inviterParams) validate() error { return needID("inviterId", p.InviterID) }

type seatParams struct {
	SeatIndex *int `json:"seatIndex"`
}

func (p *seatParams) validate() error { return needSeat(p.SeatIndex) }

type requestParams struct {
	SeatIndex *int   `json:"seatIndex"`
	Timeout   int    `json:"timeout"`
	ExtraInfo string `json:"extraInfo"`
}

func (p *requestParams) validate() error {
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

type inviteParams struct {
	UserID string `json:"userId"`
	requestParams
}

func (p *inviteParams) validate() error {
	if err := needID("userId", p.UserID); err != nil {
		return err
	}
	return p.requestParams.validate()
}

type lockParams struct {
	SeatIndex *int  `json:"seatIndex"`
	LockSeat  *bool `json:"lockSeat"`
	LockAudio *bool `json:"lockAudio"`
	LockVideo *bool `json:"lockVideo"`
}

func (p *lockParams) validate() error { return needSeat(p.SeatIndex) }

type muteParams struct {
	Kind  string `json:"kind"`
	Muted *bool  `json:"muted"`
}

func (p *muteParams) validate() error {
	if p.Kind != string(seat.KindAudio) && p.Kind != string(seat.KindVideo) {
		return invalidParams(`kind must be "audio" or "video"`)
	}
	if p.Muted == nil {
		return invalidParams("muted is required")
	}
	return nil
}

type membersParams struct {
	Cursor string `json:"cursor"`
	Limit  *int   `json:"limit"`
}

func (p *membersParams) validate() error {
	if p.Limit != nil && (*p.Limit < 1 || *p.Limit > 100) {
		return invalidParams("limit must be 1..100")
	}
	return nil
}

// Limits of room.sendMessage (CONTRACT §3.2).
const (
	maxText = 1024
	maxCmd  = 64
	maxData = 4 << 10
	// messageRate/messageBurst: the 5 messages a second a user may send.
	messageRate  = 5
	messageBurst = 5
)

type messageParams struct {
	Text *string `json:"text"`
	Cmd  *string `json:"cmd"`
	Data *string `json:"data"`
}

func (p *messageParams) validate() error {
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

type sdpParams struct {
	SDP string `json:"sdp"`
}

func (p *sdpParams) validate() error {
	if p.SDP == "" {
		return invalidParams("sdp is required")
	}
	return nil
}

type candidateParams struct {
	PC        string                   `json:"pc"`
	Candidate *webrtc.ICECandidateInit `json:"candidate"`
}

func (p *candidateParams) validate() error {
	if p.PC != "publish" && p.PC != "subscribe" {
		return invalidParams(`pc must be "publish" or "subscribe"`)
	}
	if p.Candidate == nil {
		return invalidParams("candidate is required")
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

// --- results ---

type requestIDResult struct {
	RequestID string `json:"requestId"`
}

type seatIndexResult struct {
	SeatIndex int `json:"seatIndex"`
}

type membersResult struct {
	Members    []seat.User `json:"members"`
	NextCursor string      `json:"nextCursor"`
}

// --- actions that are more than one seat operation ---

func joinRoom(s *session, id json.RawMessage, p *joinParams) (any, error) {
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
		s.respond(id, joinSnapshot{Snapshot: snap, RTC: s.rtcInfo()})
		hub.attach(s)
		return ds, nil
	})
	if err != nil {
		return nil, err
	}
	s.joined, s.room, s.hub = true, room, hub
	hub.markStats()
	s.srv.metrics.joinDuration.Observe(time.Since(start).Seconds())
	return answered{}, nil
}

func leaveRoom(s *session, id json.RawMessage, _ *noParams) (any, error) {
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

func listMembers(s *session, _ json.RawMessage, p *membersParams) (any, error) {
	limit := 100
	if p.Limit != nil {
		limit = *p.Limit
	}
	var res membersResult
	err := s.room.Do(func(r *seat.Room) (_ []seat.Delivery, err error) {
		res.Members, res.NextCursor, err = r.Members(s.user.UserID, p.Cursor, limit)
		return nil, err
	})
	if res.Members == nil {
		res.Members = []seat.User{}
	}
	return res, err
}

func sendMessage(s *session, id json.RawMessage, p *messageParams) (any, error) {
	if !s.messages.AllowN(s.srv.now(), 1) {
		return nil, withMessage(errRateLimited, "at most 5 messages a second")
	}
	msg := roomMessage{From: s.user, Text: p.Text, Cmd: p.Cmd, Data: p.Data}
	if p.Cmd != nil && p.Data == nil {
		none := ""
		msg.Data = &none
	}
	// Through the room's lock like every notification, so a member whose
	// room.join was answered gets every message sent after it.
	return s.do(id, func(*seat.Room) (any, []seat.Delivery, error) {
		return nil, []seat.Delivery{{To: seat.Everyone, Except: s.user.UserID, Event: msg}}, nil
	})
}

type publishResult struct {
	SDP string `json:"sdp"`
}

func publish(s *session, _ json.RawMessage, p *sdpParams) (any, error) {
	peer, answer, err := s.room.Publish(s.user.UserID, p.SDP, s.layersHook())
	if err != nil {
		return nil, err
	}
	if s.pub != nil {
		_ = s.pub.Close()
	}
	s.pub = peer
	return publishResult{SDP: answer}, nil
}

type subscribeResult struct {
	SDP   string     `json:"sdp"`
	Slots []slotJSON `json:"slots"`
}

type slotJSON struct {
	Mid       string `json:"mid"`
	Kind      string `json:"kind"`
	SeatIndex int    `json:"seatIndex"`
}

func subscribe(s *session, _ json.RawMessage, p *sdpParams) (any, error) {
	peer, answer, slots, err := s.room.Subscribe(s.user.UserID, p.SDP, 0, s.qualityHook())
	if err != nil {
		return nil, err
	}
	if s.sub != nil {
		_ = s.sub.Close()
	}
	s.sub = peer
	res := subscribeResult{SDP: answer, Slots: make([]slotJSON, 0, len(slots))}
	for _, sl := range slots {
		res.Slots = append(res.Slots, slotJSON(sl))
	}
	return res, nil
}

func addCandidate(s *session, _ json.RawMessage, p *candidateParams) (any, error) {
	peer := s.pub
	if p.PC == "subscribe" {
		peer = s.sub
	}
	if peer == nil {
		return nil, invalidParams("no " + p.PC + " connection: send the offer first")
	}
	if err := peer.AddCandidate(*p.Candidate); err != nil {
		return nil, invalidParams("candidate: " + truncate(err.Error(), 200))
	}
	return nil, nil
}
