package signal

import (
	"container/heap"
	"slices"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal/api"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// serviceRooms is the server API's view of the live rooms (PROTOCOL.md
// §11): each operation is one seat operation under the room's lock, so its
// notifications reach the room's clients exactly as a host's would, with
// "by"/"from" null.
type serviceRooms struct{ s *Server }

var _ api.Rooms = serviceRooms{}

// routeAPI mounts the server API under /v1/api/.
func (s *Server) routeAPI() error {
	a, err := api.New(api.Config{
		Secret:     s.cfg.Secret,
		Rooms:      s.apiRooms(), // api_remote.go: every node serves every room
		Battles:    s.cfg.Battles,
		Registerer: s.cfg.Registry,
		Logger:     s.log,
	})
	if err != nil {
		return err
	}
	s.mux.Handle("/v1/api/", a.Handler())
	return nil
}

// room finds a live room and its hub.
func (x serviceRooms) room(id string) (*sfu.Room, error) {
	s := x.s
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.cfg.SFU.Room(id)
	if h := s.hubs[id]; r == nil || h == nil || h.room != r {
		return nil, withMessage(seat.ErrRoomNotFound, "no live room "+id)
	}
	return r, nil
}

// do runs op on a live room.
func (x serviceRooms) do(id string, op func(*seat.Room) ([]seat.Delivery, error)) error {
	r, err := x.room(id)
	if err != nil {
		return err
	}
	if err := r.Do(op); err != nil {
		if err == sfu.ErrRoomEnded {
			return withMessage(seat.ErrRoomNotFound, "the room has ended")
		}
		return err
	}
	return nil
}

func (x serviceRooms) List(cursor string, limit int) (proto.APIRoomList, error) {
	ids := x.idsAfter(cursor, limit+1)
	out := proto.APIRoomList{Rooms: make([]proto.APIRoom, 0, min(limit, len(ids)))}
	for i, id := range ids {
		if len(out.Rooms) == limit {
			out.NextCursor = ids[i-1]
			break
		}
		info, err := x.Get(id)
		if err != nil {
			continue // ended since the ids were read
		}
		out.Rooms = append(out.Rooms, info)
	}
	return out, nil
}

// idsAfter returns the n smallest room ids above cursor, sorted. It keeps
// only n at a time (a max-heap), so a page of a large node costs
// O(rooms·log n), not a sort of every room.
func (x serviceRooms) idsAfter(cursor string, n int) []string {
	s := x.s
	h := &maxHeap{}
	s.mu.Lock()
	for id := range s.hubs {
		switch {
		case id <= cursor:
		case h.Len() < n:
			heap.Push(h, id)
		case id < (*h)[0]:
			(*h)[0] = id
			heap.Fix(h, 0)
		}
	}
	s.mu.Unlock()
	ids := []string(*h)
	slices.Sort(ids)
	return ids
}

type maxHeap []string

func (h maxHeap) Len() int           { return len(h) }
func (h maxHeap) Less(i, j int) bool { return h[i] > h[j] }
func (h maxHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *maxHeap) Push(x any)        { *h = append(*h, x.(string)) }
func (h *maxHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (x serviceRooms) Get(id string) (proto.APIRoom, error) {
	var out proto.APIRoom
	err := x.do(id, func(r *seat.Room) ([]seat.Delivery, error) {
		info := r.Info()
		out = proto.APIRoom{
			RoomID: info.RoomID, Title: info.Title, Cover: info.Cover, Metadata: info.Metadata,
			CreatedAt: info.CreatedAt, Owner: wireUser(r.Owner()), MemberCount: info.MemberCount,
			Seats: wireList(r.Seats(), wireSeat),
		}
		return nil, nil
	})
	out.Cohost = []string{}
	if err == nil && x.s.cfg.CohostRooms != nil {
		if rooms := x.s.cfg.CohostRooms(id); rooms != nil {
			out.Cohost = rooms
		}
	}
	return out, err
}

func (x serviceRooms) Update(id string, p proto.RoomUpdateParams) error {
	return x.do(id, func(r *seat.Room) ([]seat.Delivery, error) { return r.ServiceUpdate(metaPatch(p)) })
}

func (x serviceRooms) End(id string) error {
	return x.do(id, func(r *seat.Room) ([]seat.Delivery, error) { return r.Shutdown(seat.EndedByService), nil })
}

func (x serviceRooms) Members(id, cursor string, limit int) (proto.APIMemberList, error) {
	var out proto.APIMemberList
	err := x.do(id, func(r *seat.Room) ([]seat.Delivery, error) {
		// The owner is a member for as long as the room lives, so paging
		// "as the owner" is paging as anyone in the room.
		users, next, err := r.Members(r.Owner().UserID, cursor, limit)
		out = proto.APIMemberList{Members: wireList(users, wireUser), NextCursor: next}
		return nil, err
	})
	return out, err
}

func (x serviceRooms) KickOut(id, user string, ban bool) error {
	return x.do(id, func(r *seat.Room) ([]seat.Delivery, error) { return r.ServiceKickOut(user, ban) })
}

func (x serviceRooms) Unban(id, user string) (bool, error) {
	var lifted bool
	err := x.do(id, func(r *seat.Room) (_ []seat.Delivery, err error) {
		lifted, err = r.Unban(user)
		return nil, err
	})
	return lifted, err
}

func (x serviceRooms) SetRole(id, user string, role proto.Role) error {
	return x.do(id, func(r *seat.Room) ([]seat.Delivery, error) { return r.SetRole(user, seat.Role(role)) })
}

func (x serviceRooms) SetChatMuted(id, user string, muted bool) error {
	return x.do(id, func(r *seat.Room) ([]seat.Delivery, error) { return nil, r.SetChatMuted(user, muted) })
}

func (x serviceRooms) LockSeat(id string, index int, p proto.APISeatLock) error {
	return x.do(id, func(r *seat.Room) ([]seat.Delivery, error) {
		return r.ServiceLock(index, p.LockSeat, p.LockAudio, p.LockVideo)
	})
}

func (x serviceRooms) KickSeat(id string, index int) error {
	return x.do(id, func(r *seat.Room) ([]seat.Delivery, error) { return r.ServiceKickSeat(index) })
}

// SendMessage checks the message as room.sendMessage does and sends it to
// everyone; the service is not rate limited (the app's backend owns its
// own pace).
func (x serviceRooms) SendMessage(id string, m proto.APIMessage) error {
	p := proto.MessageParams{Text: m.Text, Cmd: m.Cmd, Data: m.Data}
	if err := checkMessage(&p); err != nil {
		return err
	}
	msg := proto.RoomMessage{From: nil, Text: m.Text, Cmd: m.Cmd, Data: m.Data}
	if m.Cmd != nil && m.Data == nil {
		none := ""
		msg.Data = &none
	}
	return x.do(id, func(*seat.Room) ([]seat.Delivery, error) {
		return []seat.Delivery{{To: seat.Everyone, Event: msg}}, nil
	})
}
