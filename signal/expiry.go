package signal

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/token"
)

// A socket's life has two deadlines (PROTOCOL.md §3.4): it must call
// room.join within Limits.JoinTimeout, and when its token expires it is
// told session.expired and closed Limits.ExpiryGrace later unless
// session.refresh gives it a valid token for the same room, user and role.
// Both are timers, not goroutines: a socket costs nothing while it waits.

// lifetime is a session's deadlines and its share of the user's rate
// budget.
type lifetime struct {
	budget *budget

	mu      sync.Mutex
	ended   bool
	joined  bool
	join    *time.Timer
	expiry  *time.Timer // fires when the token expires
	grace   *time.Timer // fires ExpiryGrace after that, unless refreshed
	expires time.Time
}

// startLife arms the join deadline and the token's expiry.
func (s *session) startLife(expires time.Time) {
	l := &s.life
	l.mu.Lock()
	defer l.mu.Unlock()
	l.join = time.AfterFunc(s.srv.cfg.Limits.JoinTimeout, s.joinDeadline)
	l.armExpiry(s, expires)
}

// armExpiry starts the expiry timer for expires; l.mu is held.
func (l *lifetime) armExpiry(s *session, expires time.Time) {
	l.expires = expires
	l.expiry = time.AfterFunc(time.Until(expires), s.tokenExpired)
}

// joined stops the join deadline: the socket joined once.
func (s *session) joinedOnce() {
	l := &s.life
	l.mu.Lock()
	defer l.mu.Unlock()
	l.joined = true
	l.join.Stop()
}

// endLife stops every timer and gives the rate budget back; the session has
// ended.
func (s *session) endLife() {
	l := &s.life
	l.mu.Lock()
	l.ended = true
	for _, t := range []*time.Timer{l.join, l.expiry, l.grace} {
		if t != nil {
			t.Stop()
		}
	}
	l.mu.Unlock()
	s.srv.caps.budgets.release(l.budget)
}

func (s *session) joinDeadline() {
	l := &s.life
	l.mu.Lock()
	late := !l.joined && !l.ended
	l.mu.Unlock()
	if late {
		s.srv.caps.refused(limitJoinTimeout)
		s.closeAfterQueued(proto.CloseJoinTimeout, proto.CloseReasonJoin)
	}
}

func (s *session) tokenExpired() {
	l := &s.life
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended || l.grace != nil || time.Now().Before(l.expires) {
		return // ended, already told, or refreshed meanwhile
	}
	s.notify(proto.NoteSessionExpired, proto.SessionExpired{})
	l.grace = time.AfterFunc(s.srv.cfg.Limits.ExpiryGrace, s.graceOver)
}

func (s *session) graceOver() {
	l := &s.life
	l.mu.Lock()
	over := !l.ended && l.grace != nil && !time.Now().Before(l.expires)
	l.mu.Unlock()
	if over {
		s.srv.caps.refused(limitTokenExpiry)
		s.closeAfterQueued(websocket.StatusCode(proto.CloseTokenExpired), proto.CloseReasonExpired)
	}
}

// refreshed moves the expiry to a new token's and cancels a running grace.
func (s *session) refreshed(expires time.Time) {
	l := &s.life
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		return
	}
	l.expiry.Stop()
	if l.grace != nil {
		l.grace.Stop()
		l.grace = nil
	}
	l.armExpiry(s, expires)
}

// errTokenInvalid refuses a session.refresh token.
var errTokenInvalid = &seat.Error{
	Reason:  string(proto.ReasonTokenInvalid),
	Message: "the token is invalid, expired, or for another room, user or role",
}

// refreshSession is session.refresh: the token must be valid now and name
// this socket's room, user and role.
func refreshSession(s *session, _ json.RawMessage, p *proto.SessionRefreshParams) (any, error) {
	id, err := token.Verify(s.srv.cfg.Secret, p.Token)
	if err != nil {
		return nil, errTokenInvalid
	}
	if id.Room != s.roomID || id.UserID != s.user.UserID || seat.Role(id.Role) != s.user.Role {
		return nil, withMessage(errTokenInvalid, "the token is for another room, user or role")
	}
	s.refreshed(id.Expires)
	s.ho.token = p.Token // a hand-over presents the newest token (handover.go)
	return nil, nil
}

func checkRefresh(p *proto.SessionRefreshParams) error {
	if p.Token == "" {
		return invalidParams("token is required")
	}
	if len(p.Token) > token.MaxTokenLen {
		return invalidParams("token is too long")
	}
	return nil
}
