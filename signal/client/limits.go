package client

import (
	"context"
	"time"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// The calls of the node's limits (PROTOCOL.md §3.4): a host's snapshot
// lists at most the 100 oldest pending requests (Snapshot.RequestsTotal
// counts them all) and SeatRequests pages the rest; a session whose token
// expires gets MethodSessionExpired and must RefreshSession before the
// server's grace runs out.

// MethodSessionExpired is the notification sent when the session's token
// expired: call RefreshSession with a new token before the server's grace
// (60 s by default) ends, or the socket closes.
const MethodSessionExpired = proto.NoteSessionExpired

// SeatRequests is one page of seat.requests (owner and admins): the pending
// requests in creation order. cursor "" starts; the returned cursor is ""
// at the end. limit is 1..100.
func (c *Client) SeatRequests(ctx context.Context, cursor string, limit int) ([]proto.Request, string, error) {
	params := proto.SeatRequestsParams{Cursor: cursor}
	if limit != 0 {
		params.Limit = &limit
	}
	var res proto.SeatRequestsResult
	err := c.Call(ctx, proto.MethodSeatRequests, params, &res)
	return res.Requests, res.NextCursor, err
}

// AllSeatRequests pages through seat.requests until the end.
func (c *Client) AllSeatRequests(ctx context.Context, pageSize int) ([]proto.Request, error) {
	return allPages(ctx, pageSize, c.SeatRequests)
}

// RefreshSession is session.refresh: it hands the server a fresh token for
// the same room, user and role, so the session outlives the token it was
// opened with. A bad token fails with reason token_invalid and changes
// nothing.
func (c *Client) RefreshSession(ctx context.Context, token string) error {
	return c.Call(ctx, proto.MethodSessionRefresh, proto.SessionRefreshParams{Token: token}, nil)
}

// The reasons of the node's limits. Compare with errors.Is.
var (
	ErrRequestsFull = &Error{Code: proto.ReasonRequestsFull.Code(), Reason: string(proto.ReasonRequestsFull)}
	ErrTokenInvalid = &Error{Code: proto.ReasonTokenInvalid.Code(), Reason: string(proto.ReasonTokenInvalid)}
	ErrOverloaded   = &Error{Code: proto.ReasonOverloaded.Code(), Reason: string(proto.ReasonOverloaded)}
)

// RefreshOnExpiry answers every session.expired by asking source for a
// fresh token and handing it to RefreshSession, so a long session survives
// its tokens without code of its own. source runs on its own goroutine (one
// per expiry, ending with the refresh) with a context bounded by the
// server's default grace; an error from source or the refresh is passed to
// failed (may be nil), and the socket will then close when the grace ends.
// The returned func stops it.
func (c *Client) RefreshOnExpiry(source func(ctx context.Context) (string, error), failed func(error)) (stop func()) {
	return c.OnEvent(func(ev Event) {
		if ev.Method != MethodSessionExpired {
			return
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), refreshBudget)
			defer cancel()
			tok, err := source(ctx)
			if err == nil {
				err = c.RefreshSession(ctx, tok)
			}
			if err != nil && failed != nil {
				failed(err)
			}
		}()
	})
}

// refreshBudget bounds one automatic refresh: the server's default grace.
const refreshBudget = 60 * time.Second
