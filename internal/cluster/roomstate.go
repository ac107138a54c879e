package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/seatsfu/seatsfu/seat"
)

// The room state blob: seat.State as JSON under a format number. seat
// speaks the domain only; this file owns how it is stored. JSON is a few
// hundred bytes per room and readable with redis-cli when something goes
// wrong; a save per seat change is far from making its size matter.
//
// Format 1 carries the seat controller's state. What later issues add to a
// room (metadata, co-host links) goes in new fields: an older node decodes
// a newer blob's known fields and refuses an unknown format.

// stateFormat is the blob format this code writes.
const stateFormat = 1

type stateBlob struct {
	Format          int           `json:"format"`
	RoomID          string        `json:"roomId"`
	MaxSeats        int           `json:"maxSeats"`
	Mode            string        `json:"mode"`
	Members         []memberBlob  `json:"members"`
	LastMemberSeq   uint64        `json:"lastMemberSeq"`
	Banned          []string      `json:"banned"`
	Seats           []seatBlob    `json:"seats"`
	Requests        []requestBlob `json:"requests"`
	LastRequestID   uint64        `json:"lastRequestId"`
	LastDeadlineSeq uint64        `json:"lastDeadlineSeq"`

	// PROTOCOL.md §11, optional in format 1: metadata, opening time (unix
	// ns), the server API's role grants and chat mutes.
	Title     string     `json:"title,omitempty"`
	Cover     string     `json:"cover,omitempty"`
	Metadata  string     `json:"metadata,omitempty"`
	CreatedAt int64      `json:"createdAt,omitempty"`
	Roles     []roleBlob `json:"roles,omitempty"`
	ChatMuted []string   `json:"chatMuted,omitempty"`
}

type roleBlob struct {
	UserID string `json:"userId"`
	Role   string `json:"role"`
}

type userBlob struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Avatar string `json:"avatar"`
	Role   string `json:"role"`
}

type memberBlob struct {
	User       userBlob `json:"user"`
	Seq        uint64   `json:"seq"`
	Connected  bool     `json:"connected"`
	GraceUntil int64    `json:"graceUntil,omitempty"` // unix ns, 0 = none
	GraceSeq   uint64   `json:"graceSeq,omitempty"`
}

type seatBlob struct {
	UserID          string `json:"userId,omitempty"`
	Locked          bool   `json:"locked,omitempty"`
	AudioLocked     bool   `json:"audioLocked,omitempty"`
	VideoLocked     bool   `json:"videoLocked,omitempty"`
	AudioMuted      bool   `json:"audioMuted,omitempty"`
	VideoMuted      bool   `json:"videoMuted,omitempty"`
	AudioPublishing bool   `json:"audioPublishing,omitempty"`
	VideoPublishing bool   `json:"videoPublishing,omitempty"`
}

type requestBlob struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	From      userBlob  `json:"from"`
	To        *userBlob `json:"to,omitempty"`
	SeatIndex int       `json:"seatIndex"`
	ExtraInfo string    `json:"extraInfo,omitempty"`
	ExpiresAt int64     `json:"expiresAt,omitempty"` // unix ms as the contract shows it
	Seq       uint64    `json:"seq"`
	Subject   string    `json:"subject"`
	Inviter   string    `json:"inviter,omitempty"`
	Deadline  int64     `json:"deadline,omitempty"` // unix ns, 0 = none
	TimerSeq  uint64    `json:"timerSeq,omitempty"`
}

// EncodeState turns a room's state into the blob Save stores.
func EncodeState(st seat.State) ([]byte, error) {
	b := stateBlob{
		Format: stateFormat, RoomID: st.RoomID, MaxSeats: st.MaxSeats, Mode: string(st.Mode),
		LastMemberSeq: st.LastMemberSeq, Banned: st.Banned, LastRequestID: st.LastRequestID,
		LastDeadlineSeq: st.LastDeadlineSeq,
		Title:           st.Meta.Title, Cover: st.Meta.Cover, Metadata: st.Meta.Metadata,
		CreatedAt: nanos(st.CreatedAt), ChatMuted: st.ChatMuted,
	}
	for _, r := range st.Roles {
		b.Roles = append(b.Roles, roleBlob{UserID: r.UserID, Role: string(r.Role)})
	}
	for _, m := range st.Members {
		b.Members = append(b.Members, memberBlob{User: userOut(m.User), Seq: m.Seq, Connected: m.Connected,
			GraceUntil: nanos(m.GraceUntil), GraceSeq: m.GraceSeq})
	}
	for _, s := range st.Seats {
		b.Seats = append(b.Seats, seatBlob(s))
	}
	for _, q := range st.Requests {
		w := q.Request
		rb := requestBlob{ID: w.RequestID, Kind: string(w.Kind), From: userOut(w.From), SeatIndex: w.SeatIndex,
			ExtraInfo: w.ExtraInfo, ExpiresAt: w.ExpiresAt, Seq: q.Seq, Subject: q.Subject, Inviter: q.Inviter,
			Deadline: nanos(q.Deadline), TimerSeq: q.TimerSeq}
		if w.To != nil {
			to := userOut(*w.To)
			rb.To = &to
		}
		b.Requests = append(b.Requests, rb)
	}
	return json.Marshal(b)
}

// DecodeState reads a blob back. It checks the format, not the state's
// consistency: seat.Restore does that.
func DecodeState(blob []byte) (seat.State, error) {
	var b stateBlob
	if err := json.Unmarshal(blob, &b); err != nil {
		return seat.State{}, fmt.Errorf("cluster: room state blob: %w", err)
	}
	switch {
	case b.Format == 0:
		return seat.State{}, errors.New("cluster: room state blob has no format")
	case b.Format > stateFormat:
		return seat.State{}, fmt.Errorf("cluster: room state blob format %d is newer than this node's %d", b.Format, stateFormat)
	}
	st := seat.State{
		RoomID: b.RoomID, MaxSeats: b.MaxSeats, Mode: seat.Mode(b.Mode),
		LastMemberSeq: b.LastMemberSeq, Banned: b.Banned, LastRequestID: b.LastRequestID,
		LastDeadlineSeq: b.LastDeadlineSeq,
		Meta:            seat.Meta{Title: b.Title, Cover: b.Cover, Metadata: b.Metadata},
		CreatedAt:       instant(b.CreatedAt), ChatMuted: b.ChatMuted,
	}
	for _, r := range b.Roles {
		st.Roles = append(st.Roles, seat.StateRole{UserID: r.UserID, Role: seat.Role(r.Role)})
	}
	for _, m := range b.Members {
		st.Members = append(st.Members, seat.StateMember{User: userIn(m.User), Seq: m.Seq, Connected: m.Connected,
			GraceUntil: instant(m.GraceUntil), GraceSeq: m.GraceSeq})
	}
	for _, s := range b.Seats {
		st.Seats = append(st.Seats, seat.StateSeat(s))
	}
	for _, q := range b.Requests {
		w := seat.Request{RequestID: q.ID, Kind: seat.RequestKind(q.Kind), From: userIn(q.From), SeatIndex: q.SeatIndex,
			ExtraInfo: q.ExtraInfo, ExpiresAt: q.ExpiresAt}
		if q.To != nil {
			to := userIn(*q.To)
			w.To = &to
		}
		st.Requests = append(st.Requests, seat.StateRequest{Request: w, Seq: q.Seq, Subject: q.Subject,
			Inviter: q.Inviter, Deadline: instant(q.Deadline), TimerSeq: q.TimerSeq})
	}
	return st, nil
}

func userOut(u seat.User) userBlob {
	return userBlob{ID: u.UserID, Name: u.Name, Avatar: u.Avatar, Role: string(u.Role)}
}

func userIn(u userBlob) seat.User {
	return seat.User{UserID: u.ID, Name: u.Name, Avatar: u.Avatar, Role: seat.Role(u.Role)}
}

// nanos and instant carry deadlines exactly; the zero time is 0 both ways.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func instant(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
