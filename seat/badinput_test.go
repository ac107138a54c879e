package seat

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// TestBadInputChangesNothing: every malformed or unauthorised call gets the
// contract's error and leaves the whole state (deep dump) untouched.
func TestBadInputChangesNothing(t *testing.T) {
	huge := strings.Repeat("x", MaxExtraInfo+1)
	cases := []struct {
		name string
		op   func(r *Room) ([]Delivery, error)
		want *Error
	}{
		{"apply by a stranger", func(r *Room) ([]Delivery, error) { _, ds, err := r.Apply("nobody", NoSeat, 0, ""); return ds, err }, ErrNotJoined},
		{"apply seat -2", func(r *Room) ([]Delivery, error) { _, ds, err := r.Apply("aud1", -2, 0, ""); return ds, err }, ErrSeatIndexInvalid},
		{"apply seat 0", func(r *Room) ([]Delivery, error) { _, ds, err := r.Apply("aud1", 0, 0, ""); return ds, err }, ErrSeatIndexInvalid},
		{"apply seat maxSeats", func(r *Room) ([]Delivery, error) { _, ds, err := r.Apply("aud1", 4, 0, ""); return ds, err }, ErrSeatIndexInvalid},
		{"apply huge seat", func(r *Room) ([]Delivery, error) { _, ds, err := r.Apply("aud1", math.MaxInt, 0, ""); return ds, err }, ErrSeatIndexInvalid},
		{"apply min-int seat", func(r *Room) ([]Delivery, error) { _, ds, err := r.Apply("aud1", math.MinInt, 0, ""); return ds, err }, ErrSeatIndexInvalid},
		{"apply negative timeout", func(r *Room) ([]Delivery, error) { _, ds, err := r.Apply("aud1", 1, -1, ""); return ds, err }, ErrInvalidParams},
		{"apply huge timeout", func(r *Room) ([]Delivery, error) { _, ds, err := r.Apply("aud1", 1, MaxTimeout+1, ""); return ds, err }, ErrInvalidParams},
		{"apply max-int timeout", func(r *Room) ([]Delivery, error) { _, ds, err := r.Apply("aud1", 1, math.MaxInt, ""); return ds, err }, ErrInvalidParams},
		{"apply oversized extraInfo", func(r *Room) ([]Delivery, error) { _, ds, err := r.Apply("aud1", 1, 0, huge); return ds, err }, ErrInvalidParams},
		{"invite an unknown user", func(r *Room) ([]Delivery, error) { _, ds, err := r.Invite("owner", "nobody", 1, 0, ""); return ds, err }, ErrInvalidParams},
		{"invite oneself", func(r *Room) ([]Delivery, error) { _, ds, err := r.Invite("adm1", "adm1", 1, 0, ""); return ds, err }, ErrInvalidParams},
		{"invite seat 0", func(r *Room) ([]Delivery, error) { _, ds, err := r.Invite("owner", "aud1", 0, 0, ""); return ds, err }, ErrSeatIndexInvalid},
		{"invite oversized extraInfo", func(r *Room) ([]Delivery, error) { _, ds, err := r.Invite("owner", "aud1", 1, 0, huge); return ds, err }, ErrInvalidParams},
		{"invite huge timeout", func(r *Room) ([]Delivery, error) {
			_, ds, err := r.Invite("owner", "aud1", 1, MaxTimeout+1, "")
			return ds, err
		}, ErrInvalidParams},
		{"invite by audience", func(r *Room) ([]Delivery, error) { _, ds, err := r.Invite("aud2", "aud1", 1, 0, ""); return ds, err }, ErrPermission},
		{"accept an unknown applicant", func(r *Room) ([]Delivery, error) {
			_, ds, err := r.AcceptApplication("owner", "nobody")
			return ds, err
		}, ErrRequestNotFound},
		{"accept a non-applicant", func(r *Room) ([]Delivery, error) { _, ds, err := r.AcceptApplication("owner", "aud1"); return ds, err }, ErrRequestNotFound},
		{"accept an invitee as applicant", func(r *Room) ([]Delivery, error) { _, ds, err := r.AcceptApplication("owner", "aud3"); return ds, err }, ErrRequestNotFound},
		{"reject by a stranger", func(r *Room) ([]Delivery, error) { return r.RejectApplication("nobody", "aud2") }, ErrNotJoined},
		{"cancel without an application", func(r *Room) ([]Delivery, error) { return r.CancelApplication("aud1") }, ErrRequestNotFound},
		{"cancel an invitation one did not send", func(r *Room) ([]Delivery, error) { return r.CancelInvitation("adm2", "aud3") }, ErrRequestNotFound},
		{"accept an invitation naming the wrong inviter", func(r *Room) ([]Delivery, error) { _, ds, err := r.AcceptInvitation("aud3", "adm2"); return ds, err }, ErrRequestNotFound},
		{"reject an invitation naming the wrong inviter", func(r *Room) ([]Delivery, error) { return r.RejectInvitation("aud3", "owner") }, ErrRequestNotFound},
		{"accept an invitation one does not have", func(r *Room) ([]Delivery, error) { _, ds, err := r.AcceptInvitation("aud1", "adm1"); return ds, err }, ErrRequestNotFound},
		{"take a huge seat", func(r *Room) ([]Delivery, error) { _, ds, err := r.Take("adm2", math.MaxInt); return ds, err }, ErrSeatIndexInvalid},
		{"move to -1", func(r *Room) ([]Delivery, error) { return r.Move("adm1", NoSeat) }, ErrSeatIndexInvalid},
		{"move to seat 0", func(r *Room) ([]Delivery, error) { return r.Move("adm1", 0) }, ErrSeatIndexInvalid},
		{"move onto an occupant", func(r *Room) ([]Delivery, error) { return r.Move("adm1", 1) }, ErrSeatOccupied},
		{"move unseated", func(r *Room) ([]Delivery, error) { return r.Move("aud1", 2) }, ErrNotSeated},
		{"leave seat unseated", func(r *Room) ([]Delivery, error) { return r.LeaveSeat("aud1") }, ErrNotSeated},
		{"kick an unknown user", func(r *Room) ([]Delivery, error) { return r.Kick("owner", "nobody") }, ErrNotSeated},
		{"kick an unseated user", func(r *Room) ([]Delivery, error) { return r.Kick("owner", "aud1") }, ErrNotSeated},
		{"kick by audience", func(r *Room) ([]Delivery, error) { return r.Kick("aud1", "adm1") }, ErrPermission},
		{"kick out an unknown user", func(r *Room) ([]Delivery, error) { return r.KickOut("owner", "nobody") }, ErrInvalidParams},
		{"lock seat -1", func(r *Room) ([]Delivery, error) { return r.Lock("owner", NoSeat, boolp(true), nil, nil) }, ErrSeatIndexInvalid},
		{"lock a huge seat", func(r *Room) ([]Delivery, error) { return r.Lock("owner", math.MaxInt, boolp(true), nil, nil) }, ErrSeatIndexInvalid},
		{"mute an unknown kind", func(r *Room) ([]Delivery, error) { return r.SetMuted("adm1", "screen", true) }, ErrInvalidParams},
		{"mute unseated", func(r *Room) ([]Delivery, error) { return r.SetMuted("aud1", KindAudio, true) }, ErrNotSeated},
		{"publishing of an unknown kind", func(r *Room) ([]Delivery, error) { return r.SetPublishing("adm1", "screen", true) }, ErrInvalidParams},
		{"join with an empty id", func(r *Room) ([]Delivery, error) { _, ds, err := r.Join(User{Role: RoleAudience}); return ds, err }, ErrInvalidParams},
		{"join with an unknown role", func(r *Room) ([]Delivery, error) { _, ds, err := r.Join(user("x", "king")); return ds, err }, ErrInvalidParams},
		{"leave by a stranger", func(r *Room) ([]Delivery, error) { return r.Leave("nobody") }, ErrNotJoined},
		{"disconnect a stranger", func(r *Room) ([]Delivery, error) { return r.Disconnect("nobody") }, ErrNotJoined},
		{"end by a stranger", func(r *Room) ([]Delivery, error) { return r.End("nobody") }, ErrNotJoined},
		{"members with limit 0", func(r *Room) ([]Delivery, error) { _, _, err := r.Members("aud1", "", 0); return nil, err }, ErrInvalidParams},
		{"members with limit 101", func(r *Room) ([]Delivery, error) { _, _, err := r.Members("aud1", "", 101); return nil, err }, ErrInvalidParams},
		{"members with a forged cursor", func(r *Room) ([]Delivery, error) { _, _, err := r.Members("aud1", "m999", 10); return nil, err }, ErrInvalidParams},
		{"members with a garbage cursor", func(r *Room) ([]Delivery, error) { _, _, err := r.Members("aud1", "abc", 10); return nil, err }, ErrInvalidParams},
		{"members with a negative cursor", func(r *Room) ([]Delivery, error) { _, _, err := r.Members("aud1", "m-1", 10); return nil, err }, ErrInvalidParams},
		{"members by a stranger", func(r *Room) ([]Delivery, error) { _, _, err := r.Members("nobody", "", 10); return nil, err }, ErrNotJoined},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			// Some state to keep: a guest on seat 1, an application, an
			// invitation with a timeout, a disconnected member, a lock.
			f.take("adm1", 1)
			_, _, err := f.room.Apply("aud2", NoSeat, 30, "hi")
			f.must(err)
			_, _, err = f.room.Invite("adm1", "aud3", 2, 30, "")
			f.must(err)
			f.lock(3, nil, boolp(true), nil)
			_, err = f.room.Disconnect("aud2")
			f.must(err)
			f.refuse(tc.want, func() ([]Delivery, error) { return tc.op(f.room) })
		})
	}
}

func TestEndedRoomRefusesEverything(t *testing.T) {
	f := newFixture(t)
	_, err := f.room.End("owner")
	f.must(err)
	ops := map[string]func() ([]Delivery, error){
		"join":   func() ([]Delivery, error) { _, ds, err := f.room.Join(owner); return ds, err },
		"apply":  func() ([]Delivery, error) { _, ds, err := f.room.Apply("aud1", NoSeat, 0, ""); return ds, err },
		"take":   func() ([]Delivery, error) { _, ds, err := f.room.Take("owner", 1); return ds, err },
		"lock":   func() ([]Delivery, error) { return f.room.Lock("owner", 1, boolp(true), nil, nil) },
		"end":    func() ([]Delivery, error) { return f.room.End("owner") },
		"leave":  func() ([]Delivery, error) { return f.room.Leave("aud1") },
		"mute":   func() ([]Delivery, error) { return f.room.SetMuted("owner", KindAudio, true) },
		"pub":    func() ([]Delivery, error) { return f.room.SetPublishing("owner", KindAudio, true) },
		"member": func() ([]Delivery, error) { _, _, err := f.room.Members("owner", "", 10); return nil, err },
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) { f.refuse(ErrRoomNotFound, op) })
	}
	if ds := f.room.Tick(); ds != nil {
		t.Fatalf("Tick on an ended room sent %+v", ds)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	good := Config{RoomID: "r", MaxSeats: 4, Owner: owner, Clock: newClock()}
	cases := map[string]func(*Config){
		"empty room id":    func(c *Config) { c.RoomID = "" },
		"empty owner id":   func(c *Config) { c.Owner.UserID = "" },
		"owner not owner":  func(c *Config) { c.Owner.Role = RoleAdmin },
		"one seat":         func(c *Config) { c.MaxSeats = MinSeats - 1 },
		"too many seats":   func(c *Config) { c.MaxSeats = MaxSeatsLimit + 1 },
		"unknown mode":     func(c *Config) { c.Mode = "lottery" },
		"nil clock":        func(c *Config) { c.Clock = nil },
		"negative grace":   func(c *Config) { c.Grace = -time.Second },
		"negative members": func(c *Config) { c.MaxMembers = -1 },
	}
	for name, mutate := range cases {
		cfg := good
		mutate(&cfg)
		if _, err := New(cfg); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("%s: New = %v, want invalid_params", name, err)
		}
	}
	r, err := New(good)
	if err != nil {
		t.Fatal(err)
	}
	if info := r.Info(); info != (Info{RoomID: "r", MaxSeats: 4, SeatMode: ModeApply, MemberCount: 1, CreatedAt: good.Clock.Now().UnixMilli()}) {
		t.Fatalf("Info = %+v", info)
	}
	if r.ID() != "r" || r.SeatOf("owner") != 0 || len(r.Seats()) != 4 {
		t.Fatalf("a new room does not seat its owner on 0 of 4")
	}
}
