package client

import (
	"log/slog"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// HostListener is what an owner or admin hears about seat requests
// (CoGuestStore's HostListener). Embed NopHostListener to implement only
// some of it.
type HostListener interface {
	OnGuestApplicationReceived(req proto.Request)
	// reason: cancelled, timeout, left, alreadySeated.
	OnGuestApplicationCancelled(guest proto.User, reason string)
	OnGuestApplicationProcessedByOtherHost(guest, host proto.User, accepted bool)
	OnHostInvitationResponded(guest proto.User, accepted bool)
	// reason: timeout, alreadySeated, left.
	OnHostInvitationNoResponse(guest proto.User, reason string)
}

// GuestListener is what an audience member hears about its own requests and
// seat (CoGuestStore's GuestListener). Embed NopGuestListener to implement
// only some of it.
type GuestListener interface {
	OnHostInvitationReceived(req proto.Request)
	// reason: cancelled, timeout, left, alreadySeated.
	OnHostInvitationCancelled(host proto.User, reason string)
	// seatIndex is proto.NoSeat when rejected.
	OnGuestApplicationResponded(accepted bool, host proto.User, seatIndex int)
	// reason: timeout, alreadySeated.
	OnGuestApplicationNoResponse(reason string)
	// by is nil when the server API took the seat (PROTOCOL.md §11).
	OnKickedOffSeat(seatIndex int, by *proto.User)
}

// RoomListener hears the room-wide notifications. Embed NopRoomListener to
// implement only some of it.
type RoomListener interface {
	OnSeatChanged(ev proto.SeatChanged)
	OnRoomEnded(reason string)
	OnMessage(msg Message)
	OnStats(memberCount int)
	// OnMemberJoined and OnMemberLeft reach hosts only.
	OnMemberJoined(user proto.User)
	OnMemberLeft(user proto.User, reason string)
	// by is nil when the server API removed the user (PROTOCOL.md §11).
	OnKickedOut(by *proto.User)
	OnSessionReplaced()
}

// NopHostListener implements HostListener with no-ops.
type NopHostListener struct{}

func (NopHostListener) OnGuestApplicationReceived(proto.Request)                       {}
func (NopHostListener) OnGuestApplicationCancelled(proto.User, string)                 {}
func (NopHostListener) OnGuestApplicationProcessedByOtherHost(_, _ proto.User, _ bool) {}
func (NopHostListener) OnHostInvitationResponded(proto.User, bool)                     {}
func (NopHostListener) OnHostInvitationNoResponse(proto.User, string)                  {}

// NopGuestListener implements GuestListener with no-ops.
type NopGuestListener struct{}

func (NopGuestListener) OnHostInvitationReceived(proto.Request)            {}
func (NopGuestListener) OnHostInvitationCancelled(proto.User, string)      {}
func (NopGuestListener) OnGuestApplicationResponded(bool, proto.User, int) {}
func (NopGuestListener) OnGuestApplicationNoResponse(string)               {}
func (NopGuestListener) OnKickedOffSeat(int, *proto.User)                  {}

// NopRoomListener implements RoomListener with no-ops.
type NopRoomListener struct{}

func (NopRoomListener) OnSeatChanged(proto.SeatChanged) {}
func (NopRoomListener) OnRoomEnded(string)              {}
func (NopRoomListener) OnMessage(Message)               {}
func (NopRoomListener) OnStats(int)                     {}
func (NopRoomListener) OnMemberJoined(proto.User)       {}
func (NopRoomListener) OnMemberLeft(proto.User, string) {}
func (NopRoomListener) OnKickedOut(*proto.User)         {}
func (NopRoomListener) OnSessionReplaced()              {}

// listeners is the registry; guarded by Client.mu. Each registration has an
// id so it can be removed.
type listeners struct {
	nextID int
	host   map[int]HostListener
	guest  map[int]GuestListener
	room   map[int]RoomListener
	any    map[int]func(Event)
}

// AddHostListener registers l; the returned func removes it.
func (c *Client) AddHostListener(l HostListener) (remove func()) {
	return c.register(func(ls *listeners, id int) {
		if ls.host == nil {
			ls.host = map[int]HostListener{}
		}
		ls.host[id] = l
	}, func(ls *listeners, id int) { delete(ls.host, id) })
}

// AddGuestListener registers l; the returned func removes it.
func (c *Client) AddGuestListener(l GuestListener) (remove func()) {
	return c.register(func(ls *listeners, id int) {
		if ls.guest == nil {
			ls.guest = map[int]GuestListener{}
		}
		ls.guest[id] = l
	}, func(ls *listeners, id int) { delete(ls.guest, id) })
}

// AddRoomListener registers l; the returned func removes it.
func (c *Client) AddRoomListener(l RoomListener) (remove func()) {
	return c.register(func(ls *listeners, id int) {
		if ls.room == nil {
			ls.room = map[int]RoomListener{}
		}
		ls.room[id] = l
	}, func(ls *listeners, id int) { delete(ls.room, id) })
}

// OnEvent registers f for every notification, raw; the returned func
// removes it.
func (c *Client) OnEvent(f func(Event)) (remove func()) {
	return c.register(func(ls *listeners, id int) {
		if ls.any == nil {
			ls.any = map[int]func(Event){}
		}
		ls.any[id] = f
	}, func(ls *listeners, id int) { delete(ls.any, id) })
}

func (c *Client) register(add, del func(*listeners, int)) func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lis.nextID++
	id := c.lis.nextID
	add(&c.lis, id)
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		del(&c.lis, id)
	}
}

// listenerSet is a copy taken for one delivery, so callbacks run without
// the client's lock (they may call the client).
type listenerSet struct {
	host  []HostListener
	guest []GuestListener
	room  []RoomListener
	any   []func(Event)
}

func (ls *listeners) snapshot() listenerSet {
	var s listenerSet
	for _, l := range ls.host {
		s.host = append(s.host, l)
	}
	for _, l := range ls.guest {
		s.guest = append(s.guest, l)
	}
	for _, l := range ls.room {
		s.room = append(s.room, l)
	}
	for _, f := range ls.any {
		s.any = append(s.any, f)
	}
	return s
}

// deliver decodes ev once and calls the listeners that care.
func (s listenerSet) deliver(ev Event, logger *slog.Logger) {
	for _, f := range s.any {
		f(ev)
	}
	bad := func(err error) { logger.Warn("notification with unexpected params", "method", ev.Method, "err", err) }
	switch ev.Method {
	case MethodApplicationReceived:
		if v, err := Decode[proto.ApplicationReceived](ev); err != nil {
			bad(err)
		} else {
			for _, l := range s.host {
				l.OnGuestApplicationReceived(v.Request)
			}
		}
	case MethodApplicationCancelled:
		if v, err := Decode[proto.ApplicationCancelled](ev); err != nil {
			bad(err)
		} else {
			for _, l := range s.host {
				l.OnGuestApplicationCancelled(v.User, v.Reason)
			}
		}
	case MethodApplicationProcessedByOtherHost:
		if v, err := Decode[proto.ApplicationProcessedByOtherHost](ev); err != nil {
			bad(err)
		} else {
			for _, l := range s.host {
				l.OnGuestApplicationProcessedByOtherHost(v.User, v.Host, v.Accepted)
			}
		}
	case MethodInvitationResponded:
		if v, err := Decode[proto.InvitationResponded](ev); err != nil {
			bad(err)
		} else {
			for _, l := range s.host {
				l.OnHostInvitationResponded(v.User, v.Accepted)
			}
		}
	case MethodInvitationNoResponse:
		if v, err := Decode[proto.InvitationNoResponse](ev); err != nil {
			bad(err)
		} else {
			for _, l := range s.host {
				l.OnHostInvitationNoResponse(v.User, v.Reason)
			}
		}
	case MethodInvitationReceived:
		if v, err := Decode[proto.InvitationReceived](ev); err != nil {
			bad(err)
		} else {
			for _, l := range s.guest {
				l.OnHostInvitationReceived(v.Request)
			}
		}
	case MethodInvitationCancelled:
		if v, err := Decode[proto.InvitationCancelled](ev); err != nil {
			bad(err)
		} else {
			for _, l := range s.guest {
				l.OnHostInvitationCancelled(v.Host, v.Reason)
			}
		}
	case MethodApplicationResponded:
		if v, err := Decode[proto.ApplicationResponded](ev); err != nil {
			bad(err)
		} else {
			idx := proto.NoSeat
			if v.SeatIndex != nil {
				idx = *v.SeatIndex
			}
			for _, l := range s.guest {
				l.OnGuestApplicationResponded(v.Accepted, v.Host, idx)
			}
		}
	case MethodApplicationNoResponse:
		if v, err := Decode[proto.ApplicationNoResponse](ev); err != nil {
			bad(err)
		} else {
			for _, l := range s.guest {
				l.OnGuestApplicationNoResponse(v.Reason)
			}
		}
	case MethodSeatKicked:
		if v, err := Decode[proto.SeatKicked](ev); err != nil {
			bad(err)
		} else {
			for _, l := range s.guest {
				l.OnKickedOffSeat(v.SeatIndex, v.By)
			}
		}
	case MethodSeatChanged:
		if v, err := Decode[proto.SeatChanged](ev); err != nil {
			bad(err)
		} else {
			for _, l := range s.room {
				l.OnSeatChanged(v)
			}
		}
	case MethodRoomEnded:
		if v, err := Decode[proto.RoomEnded](ev); err != nil {
			bad(err)
		} else {
			for _, l := range s.room {
				l.OnRoomEnded(v.Reason)
			}
		}
	case MethodRoomMessage:
		if v, err := Decode[proto.RoomMessage](ev); err != nil {
			bad(err)
		} else {
			for _, l := range s.room {
				l.OnMessage(messageOf(v))
			}
		}
	case MethodRoomStats:
		if v, err := Decode[Stats](ev); err != nil {
			bad(err)
		} else {
			for _, l := range s.room {
				l.OnStats(v.MemberCount)
			}
		}
	case MethodMemberJoined:
		if v, err := Decode[proto.MemberJoined](ev); err != nil {
			bad(err)
		} else {
			for _, l := range s.room {
				l.OnMemberJoined(v.User)
			}
		}
	case MethodMemberLeft:
		if v, err := Decode[proto.MemberLeft](ev); err != nil {
			bad(err)
		} else {
			for _, l := range s.room {
				l.OnMemberLeft(v.User, v.Reason)
			}
		}
	case MethodKickedOut:
		if v, err := Decode[proto.KickedOut](ev); err != nil {
			bad(err)
		} else {
			for _, l := range s.room {
				l.OnKickedOut(v.By)
			}
		}
	case MethodSessionReplaced:
		for _, l := range s.room {
			l.OnSessionReplaced()
		}
	}
}
