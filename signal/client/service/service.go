// Package service is the Go client of seatsfu's server API (PROTOCOL.md
// §11), for an app's backend: list and inspect live rooms, change their
// metadata, end them, moderate members and seats, send system messages and
// credit battle scores. It authenticates with a service token (seatsfu
// token --service --user NAME, or token.MintService).
//
// Every method returns *Error for an answer other than 200, so callers can
// switch on its HTTP status or its reason.
package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// Client calls one seatsfu server's API.
type Client struct {
	base  string // http(s)://host:port, no trailing slash
	token string
	http  *http.Client
}

// New makes a client for the server at baseURL (e.g.
// "https://sfu.example.com") with a service token. httpClient nil means
// http.DefaultClient.
func New(baseURL, serviceToken string, httpClient *http.Client) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("service: %q is not an http(s) base URL", baseURL)
	}
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: serviceToken, http: httpClient}, nil
}

// Error is the API's refusal: the HTTP status and the body's reason and
// message.
type Error struct {
	Status  int
	Reason  string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("seatsfu api: %d %s: %s", e.Status, e.Reason, e.Message)
}

// maxResponse bounds what is read of an answer (a page of 100 rooms with
// their seats and 4 KiB metadata each is well under it).
const maxResponse = 8 << 20

// do sends one request; in (when not nil) is the JSON body, out (when not
// nil) receives the 200 body.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e proto.APIError
		if json.Unmarshal(raw, &e) != nil || e.Error.Reason == "" {
			return &Error{Status: resp.StatusCode, Reason: "http_error", Message: strings.TrimSpace(string(raw))}
		}
		return &Error{Status: resp.StatusCode, Reason: e.Error.Reason, Message: e.Error.Message}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}

func pageQuery(cursor string, limit int) string {
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

func roomPath(room string) string { return "/v1/api/rooms/" + url.PathEscape(room) }

// ListRooms returns one page of live rooms by room id; pass the returned
// NextCursor to get the next ("" at the end). limit 0 is the server's
// default.
func (c *Client) ListRooms(ctx context.Context, cursor string, limit int) (proto.APIRoomList, error) {
	var out proto.APIRoomList
	return out, c.do(ctx, "GET", "/v1/api/rooms"+pageQuery(cursor, limit), nil, &out)
}

// Room returns one live room.
func (c *Client) Room(ctx context.Context, room string) (proto.APIRoom, error) {
	var out proto.APIRoom
	return out, c.do(ctx, "GET", roomPath(room), nil, &out)
}

// UpdateRoom changes the fields set in p; everyone gets room.updated.
func (c *Client) UpdateRoom(ctx context.Context, room string, p proto.RoomUpdateParams) error {
	return c.do(ctx, "PATCH", roomPath(room), p, nil)
}

// EndRoom ends the room (room.ended {reason: "ended_by_service"}).
func (c *Client) EndRoom(ctx context.Context, room string) error {
	return c.do(ctx, "POST", roomPath(room)+"/end", nil, nil)
}

// Members returns one page of a room's members.
func (c *Client) Members(ctx context.Context, room, cursor string, limit int) (proto.APIMemberList, error) {
	var out proto.APIMemberList
	return out, c.do(ctx, "GET", roomPath(room)+"/members"+pageQuery(cursor, limit), nil, &out)
}

func memberPath(room, user string) string { return roomPath(room) + "/members/" + url.PathEscape(user) }

// KickOut removes a member; with ban it may not rejoin until Unban.
func (c *Client) KickOut(ctx context.Context, room, user string, ban bool) error {
	return c.do(ctx, "POST", memberPath(room, user)+"/kickOut", proto.APIKickOut{Ban: &ban}, nil)
}

// Unban lets a kicked-out user join again (404 not_banned if it was not).
func (c *Client) Unban(ctx context.Context, room, user string) error {
	return c.do(ctx, "DELETE", roomPath(room)+"/bans/"+url.PathEscape(user), nil, nil)
}

// SetRole makes a member an admin or audience (room.roleChanged).
func (c *Client) SetRole(ctx context.Context, room, user string, role proto.Role) error {
	return c.do(ctx, "POST", memberPath(room, user)+"/role", proto.APIRole{Role: role}, nil)
}

// SetChatMuted mutes or unmutes a user's chat (room.sendMessage →
// chat_muted).
func (c *Client) SetChatMuted(ctx context.Context, room, user string, muted bool) error {
	return c.do(ctx, "POST", memberPath(room, user)+"/chatMute", proto.APIChatMute{Muted: &muted}, nil)
}

// LockSeat is seat.lock by the service; nil fields stay as they are.
func (c *Client) LockSeat(ctx context.Context, room string, index int, p proto.APISeatLock) error {
	return c.do(ctx, "POST", roomPath(room)+"/seats/"+strconv.Itoa(index)+"/lock", p, nil)
}

// KickSeat takes seat index from its guest.
func (c *Client) KickSeat(ctx context.Context, room string, index int) error {
	return c.do(ctx, "POST", roomPath(room)+"/seats/"+strconv.Itoa(index)+"/kick", nil, nil)
}

// SendText sends room.message {from: null, text} to everyone in the room.
func (c *Client) SendText(ctx context.Context, room, text string) error {
	return c.do(ctx, "POST", roomPath(room)+"/messages", proto.APIMessage{Text: &text}, nil)
}

// SendCommand sends room.message {from: null, cmd, data}.
func (c *Client) SendCommand(ctx context.Context, room, cmd, data string) error {
	return c.do(ctx, "POST", roomPath(room)+"/messages", proto.APIMessage{Cmd: &cmd, Data: &data}, nil)
}

// AddScore credits delta (may be negative) to room's score in a battle.
func (c *Client) AddScore(ctx context.Context, battleID, room string, delta int64) error {
	return c.do(ctx, "POST", "/v1/api/battles/"+url.PathEscape(battleID)+"/score", proto.APIScore{RoomID: room, Delta: &delta}, nil)
}
