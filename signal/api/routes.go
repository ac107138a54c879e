package api

import (
	"net/http"

	"github.com/seatsfu/seatsfu/signal/proto"
)

// route is one endpoint: where it is, what the OpenAPI document says of it,
// and what it does. body and result are zero values of the Go types
// decoded and encoded; the document's schemas are made from them.
type route struct {
	method, path string // a ServeMux pattern, and the OpenAPI path
	id, summary  string
	query        []string // query parameters, described in params
	body         any      // nil: no request body
	result       any      // the 200 body
	errors       []int    // the statuses it may answer besides 200
	public       bool     // no token needed
	handle       func(a *API, r *http.Request, body any) (any, error)
}

// Statuses most routes answer.
var (
	authErrs       = []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden}
	roomErrs       = append(authErrs[:3:3], http.StatusNotFound)
	roomConflicts  = append(roomErrs[:4:4], http.StatusConflict)
	empty          = struct{}{}
	roomsPath      = "/v1/api/rooms"
	roomPath       = roomsPath + "/{room}"
	memberPath     = roomPath + "/members/{user}"
	seatPath       = roomPath + "/seats/{index}"
	paging         = []string{"cursor", "limit"}
	openAPIPath    = "/v1/api/openapi.json"
	openAPISummary = "This document: the server API in OpenAPI 3."
)

// routes is the server API (PROTOCOL.md §11), in the contract's order.
func routes() []route {
	return []route{
		{method: "GET", path: roomsPath, id: "listRooms", summary: "List live rooms, paged by room id.",
			query: paging, result: proto.APIRoomList{}, errors: authErrs,
			handle: func(a *API, r *http.Request, _ any) (any, error) {
				cursor, limit, err := page(r, defaultRoomsLimit)
				if err != nil {
					return nil, err
				}
				if cursor != "" && !validID(cursor) {
					return nil, badRequest("cursor must be a room id")
				}
				return a.cfg.Rooms.List(cursor, limit)
			}},
		{method: "GET", path: roomPath, id: "getRoom", summary: "One live room.",
			result: proto.APIRoom{}, errors: roomErrs,
			handle: func(a *API, r *http.Request, _ any) (any, error) {
				room, err := pathID(r, "room")
				if err != nil {
					return nil, err
				}
				return a.cfg.Rooms.Get(room)
			}},
		{method: "PATCH", path: roomPath, id: "updateRoom", summary: "Change a room's title, cover or metadata, as room.update; everyone gets room.updated.",
			body: proto.RoomUpdateParams{}, result: empty, errors: roomErrs,
			handle: inRoom(func(a *API, room string, r *http.Request, body any) error {
				p := body.(*proto.RoomUpdateParams)
				if p.Title == nil && p.Cover == nil && p.Metadata == nil {
					return badRequest("title, cover or metadata is required")
				}
				return a.cfg.Rooms.Update(room, *p)
			})},
		{method: "POST", path: roomPath + "/end", id: "endRoom", summary: "End a room: everyone gets room.ended {reason: ended_by_service}.",
			result: empty, errors: roomErrs,
			handle: inRoom(func(a *API, room string, _ *http.Request, _ any) error { return a.cfg.Rooms.End(room) })},
		{method: "GET", path: roomPath + "/members", id: "listMembers", summary: "A room's members, as room.members.",
			query: paging, result: proto.APIMemberList{}, errors: roomErrs,
			handle: func(a *API, r *http.Request, _ any) (any, error) {
				room, err := pathID(r, "room")
				if err != nil {
					return nil, err
				}
				cursor, limit, err := page(r, defaultMembersLimit)
				if err != nil {
					return nil, err
				}
				return a.cfg.Rooms.Members(room, cursor, limit)
			}},
		{method: "POST", path: memberPath + "/kickOut", id: "kickOutMember", summary: "Remove a member (room.kickedOut {by: null}); banned from rejoining unless ban is false.",
			body: proto.APIKickOut{}, result: empty, errors: roomConflicts,
			handle: onMember(func(a *API, room, user string, body any) error {
				ban := body.(*proto.APIKickOut).Ban
				return a.cfg.Rooms.KickOut(room, user, ban == nil || *ban)
			})},
		{method: "DELETE", path: roomPath + "/bans/{user}", id: "unbanUser", summary: "Lift a ban, so the user may join again.",
			result: empty, errors: roomErrs,
			handle: onMember(func(a *API, room, user string, _ any) error {
				lifted, err := a.cfg.Rooms.Unban(room, user)
				if err == nil && !lifted {
					return &apiError{http.StatusNotFound, proto.APIReasonNotBanned, user + " is not banned from " + room}
				}
				return err
			})},
		{method: "POST", path: memberPath + "/role", id: "setMemberRole", summary: "Make a member an admin or audience; everyone gets room.roleChanged.",
			body: proto.APIRole{}, result: empty, errors: roomConflicts,
			handle: onMember(func(a *API, room, user string, body any) error {
				role := body.(*proto.APIRole).Role
				if role != proto.RoleAdmin && role != proto.RoleAudience {
					return badRequest(`role must be "admin" or "audience"`)
				}
				return a.cfg.Rooms.SetRole(room, user, role)
			})},
		{method: "POST", path: memberPath + "/chatMute", id: "setChatMute", summary: "Mute or unmute a user's room.sendMessage (chat_muted).",
			body: proto.APIChatMute{}, result: empty, errors: roomErrs,
			handle: onMember(func(a *API, room, user string, body any) error {
				muted := body.(*proto.APIChatMute).Muted
				if muted == nil {
					return badRequest("muted is required")
				}
				return a.cfg.Rooms.SetChatMuted(room, user, *muted)
			})},
		{method: "POST", path: seatPath + "/lock", id: "lockSeat", summary: "Lock or unlock a seat or its audio/video, as seat.lock.",
			body: proto.APISeatLock{}, result: empty, errors: roomConflicts,
			handle: onSeat(func(a *API, room string, index int, body any) error {
				return a.cfg.Rooms.LockSeat(room, index, *body.(*proto.APISeatLock))
			})},
		{method: "POST", path: seatPath + "/kick", id: "kickSeat", summary: "Take a seat from its guest, as seat.kick (seat.kicked {by: null}).",
			result: empty, errors: roomConflicts,
			handle: onSeat(func(a *API, room string, index int, _ any) error { return a.cfg.Rooms.KickSeat(room, index) })},
		{method: "POST", path: roomPath + "/messages", id: "sendMessage", summary: "A system message: room.message {from: null} to everyone.",
			body: proto.APIMessage{}, result: empty, errors: roomErrs,
			handle: inRoom(func(a *API, room string, _ *http.Request, body any) error {
				return a.cfg.Rooms.SendMessage(room, *body.(*proto.APIMessage))
			})},
		{method: "POST", path: "/v1/api/battles/{battleId}/score", id: "addBattleScore", summary: "Credit a room's battle score (after a gift is paid, say).",
			body: proto.APIScore{}, result: empty, errors: roomConflicts,
			handle: func(a *API, r *http.Request, body any) (any, error) {
				battle, err := pathID(r, "battleId")
				if err != nil {
					return nil, err
				}
				b := body.(*proto.APIScore)
				if !validID(b.RoomID) || b.Delta == nil {
					return nil, badRequest("roomId and delta are required")
				}
				if a.cfg.Battles == nil {
					return nil, ErrBattleNotFound
				}
				return nil, a.cfg.Battles.AddScore(battle, b.RoomID, *b.Delta)
			}},
		{method: "GET", path: openAPIPath, id: "openAPI", summary: openAPISummary, public: true,
			result: map[string]any{},
			handle: func(a *API, _ *http.Request, _ any) (any, error) { return rawJSON(a.doc), nil }},
	}
}

// inRoom, onMember and onSeat read the path's ids before the action.
func inRoom(f func(a *API, room string, r *http.Request, body any) error) func(*API, *http.Request, any) (any, error) {
	return func(a *API, r *http.Request, body any) (any, error) {
		room, err := pathID(r, "room")
		if err != nil {
			return nil, err
		}
		return nil, f(a, room, r, body)
	}
}

func onMember(f func(a *API, room, user string, body any) error) func(*API, *http.Request, any) (any, error) {
	return inRoom(func(a *API, room string, r *http.Request, body any) error {
		user, err := pathID(r, "user")
		if err != nil {
			return err
		}
		return f(a, room, user, body)
	})
}

func onSeat(f func(a *API, room string, index int, body any) error) func(*API, *http.Request, any) (any, error) {
	return inRoom(func(a *API, room string, r *http.Request, body any) error {
		index, err := pathIndex(r)
		if err != nil {
			return err
		}
		return f(a, room, index, body)
	})
}

// params describes every path and query parameter the routes use.
var params = map[string]struct {
	typ, doc string
}{
	"room":     {"string", "A room id (1-128 characters of [A-Za-z0-9_.-])."},
	"user":     {"string", "A user id (1-128 characters of [A-Za-z0-9_.-])."},
	"battleId": {"string", "A battle id, from battle.started."},
	"index":    {"integer", "A guest seat, 1..maxSeats-1."},
	"cursor":   {"string", "nextCursor of the previous page; empty for the first."},
	"limit":    {"integer", "Page size, 1..100."},
}
