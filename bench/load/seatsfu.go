package load

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/bench/peer"
	"github.com/seatsfu/seatsfu/signal/client"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/token"
)

// SeatsfuTarget drives seatsfu through its real signalling (JSON-RPC over
// WebSocket, signal/client): the host owns the room, guests take seats
// (the room is opened in "free" seat mode so a guest needs no host
// round-trip), viewers join as audience and subscribe to seat slots.
type SeatsfuTarget struct {
	srv    Server
	wsURL  string
	secret []byte
	room   string

	mu     sync.Mutex
	owner  *client.Client
	guests map[int]*client.Client // by seat
	closed bool
}

// NewSeatsfuTarget opens room as its owner.
func NewSeatsfuTarget(ctx context.Context, srv Server, wsURL string, secret []byte, room string, maxSeats int) (*SeatsfuTarget, error) {
	t := &SeatsfuTarget{srv: srv, wsURL: wsURL, secret: secret, room: room, guests: map[int]*client.Client{}}
	owner, err := t.dial(ctx, "host", proto.RoleOwner)
	if err != nil {
		return nil, err
	}
	if _, err := owner.Join(ctx, &client.CreateOptions{MaxSeats: maxSeats, SeatMode: proto.ModeFree}); err != nil {
		_ = owner.Close()
		return nil, fmt.Errorf("load: open room: %w", err)
	}
	t.owner = owner
	return t, nil
}

func (t *SeatsfuTarget) dial(ctx context.Context, user string, role proto.Role) (*client.Client, error) {
	tok, err := token.Mint(t.secret, token.Identity{UserID: user, Room: t.room, Role: role}, time.Hour)
	if err != nil {
		return nil, err
	}
	// A viewer's notifications are not read by anyone: keep the event log
	// small so hundreds of idle clients stay cheap.
	c, err := client.Dial(ctx, t.wsURL, tok, client.WithEventLog(64))
	if err != nil {
		return nil, fmt.Errorf("load: dial %s: %w", user, err)
	}
	return c, nil
}

func (t *SeatsfuTarget) Server() Server { return t.srv }

// Publish publishes for the owner (seat 0) or seats a guest on seat and
// publishes for it.
func (t *SeatsfuTarget) Publish(ctx context.Context, seatIdx int, offer string) (string, error) {
	c, err := t.seated(ctx, seatIdx)
	if err != nil {
		return "", err
	}
	return c.Publish(ctx, offer)
}

func (t *SeatsfuTarget) seated(ctx context.Context, seatIdx int) (*client.Client, error) {
	if seatIdx == 0 {
		return t.owner, nil
	}
	t.mu.Lock()
	c := t.guests[seatIdx]
	t.mu.Unlock()
	if c != nil {
		return c, nil
	}
	c, err := t.dial(ctx, fmt.Sprintf("guest%d", seatIdx), proto.RoleAudience)
	if err != nil {
		return nil, err
	}
	if _, err := c.Join(ctx, nil); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("load: guest join: %w", err)
	}
	if _, err := c.TakeSeat(ctx, seatIdx); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("load: guest take seat %d: %w", seatIdx, err)
	}
	t.mu.Lock()
	t.guests[seatIdx] = c
	t.mu.Unlock()
	return c, nil
}

// SeatGuest seats a new guest called user on seatIdx and publishes offer
// for it; the old guest of that seat (if any) must have left. granted is
// called the moment the seat is granted (seat.take answered).
func (t *SeatsfuTarget) SeatGuest(ctx context.Context, user string, seatIdx int, offer string, granted func()) (string, error) {
	c, err := t.dial(ctx, user, proto.RoleAudience)
	if err != nil {
		return "", err
	}
	if _, err = c.Join(ctx, nil); err == nil {
		_, err = c.TakeSeat(ctx, seatIdx)
	}
	var answer string
	if err == nil {
		granted()
		answer, err = c.Publish(ctx, offer)
	}
	if err != nil {
		_ = c.Close()
		return "", fmt.Errorf("load: seat %s on %d: %w", user, seatIdx, err)
	}
	t.mu.Lock()
	old := t.guests[seatIdx]
	t.guests[seatIdx] = c
	t.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	return answer, nil
}

// LeaveSeat makes the guest on seatIdx leave its seat (it stays in the room
// until SeatGuest replaces it).
func (t *SeatsfuTarget) LeaveSeat(ctx context.Context, seatIdx int) error {
	t.mu.Lock()
	c := t.guests[seatIdx]
	t.mu.Unlock()
	if c == nil {
		return fmt.Errorf("load: no guest on seat %d", seatIdx)
	}
	return c.LeaveSeat(ctx)
}

// seatsfuViewer is a viewer and its signalling client.
type seatsfuViewer struct {
	*peer.Viewer
	c *client.Client
}

func (v seatsfuViewer) Close() error {
	return errors.Join(v.Viewer.Close(), v.c.Close())
}

func (t *SeatsfuTarget) AddViewer(ctx context.Context, api *webrtc.API, sink *peer.Sink, n, seats int) (Viewer, error) {
	c, err := t.dial(ctx, fmt.Sprintf("viewer%d", n), proto.RoleAudience)
	if err != nil {
		return nil, err
	}
	if _, err := c.Join(ctx, nil); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("load: viewer join: %w", err)
	}
	v, offer, err := peer.NewViewer(api, sink, seats)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	answer, _, err := c.Subscribe(ctx, offer)
	if err == nil {
		err = v.Accept(answer)
	}
	if err != nil {
		_ = v.Close()
		_ = c.Close()
		return nil, fmt.Errorf("load: viewer subscribe: %w", err)
	}
	return seatsfuViewer{v, c}, nil
}

// Close ends the room (room.end) and closes every client.
func (t *SeatsfuTarget) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	guests := t.guests
	t.guests = nil
	t.mu.Unlock()
	for _, g := range guests {
		_ = g.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = t.owner.End(ctx)
	return t.owner.Close()
}

// SeatRoundTrip runs one seat request end to end, as an audience member
// called user: join, seat.apply for any seat, the host's
// seat.acceptApplication, then seat.leave and room.leave. It returns the
// time from apply to the accept's answer (what a host's tap costs).
func (t *SeatsfuTarget) SeatRoundTrip(ctx context.Context, user string) (time.Duration, error) {
	c, err := t.dial(ctx, user, proto.RoleAudience)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if _, err := c.Join(ctx, nil); err != nil {
		return 0, fmt.Errorf("load: %s join: %w", user, err)
	}
	start := time.Now()
	if _, err := c.ApplyForSeat(ctx, -1, 0, ""); err != nil {
		return 0, fmt.Errorf("load: %s apply: %w", user, err)
	}
	if _, err := t.owner.AcceptApplication(ctx, user); err != nil {
		return 0, fmt.Errorf("load: accept %s: %w", user, err)
	}
	took := time.Since(start)
	if err := c.LeaveSeat(ctx); err != nil {
		return took, fmt.Errorf("load: %s leave seat: %w", user, err)
	}
	if err := c.Leave(ctx); err != nil {
		return took, fmt.Errorf("load: %s leave room: %w", user, err)
	}
	return took, nil
}
