package whip

import (
	"net/http"
	"strconv"
)

// WHEP (draft-ietf-wish-whep): POST /whep/{room} plays a room. Any valid
// token for the room may play; the player need not be a signalling member.
// The answer follows PROTOCOL.md §5's seat-slot rule: the k-th audio and video
// m-lines carry seat first+k, where first is ?seat=N (default 0). A player
// offering one audio and one video m-line therefore watches the owner, or
// seat N. The room must be open (404): playing never opens a room.

func (s *Server) postWHEP(w http.ResponseWriter, r *http.Request) {
	id, offer, info, ok := s.admitOffer(w, r, false)
	if !ok {
		return
	}
	first := 0
	if v, set := r.URL.Query()["seat"]; set {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 0 || len(v) > 1 {
			httpError(w, http.StatusBadRequest, "seat must be one seat index")
			return
		}
		first = n
	}
	if !s.enter(w) {
		return
	}
	defer s.wg.Done()

	room := s.cfg.SFU.Room(id.Room)
	if room == nil {
		httpError(w, http.StatusNotFound, "room_not_found: no such room")
		return
	}
	if first >= room.MaxSeats() {
		httpError(w, http.StatusBadRequest, "seat_index_invalid: the room has "+strconv.Itoa(room.MaxSeats())+" seats")
		return
	}
	ms := &session{
		id: newID(), etag: `"` + newID() + `"`, kind: kindWHEP, room: id.Room, user: id.UserID,
		ufrag: info.ufrag, firstMid: info.firstMid,
	}
	release, err := s.admit(id.Room, id.UserID) // limits.go
	if err != nil {
		httpError(w, statusOf(err), err.Error())
		return
	}
	if !s.sessions.reserve(ms) {
		release()
		httpError(w, http.StatusServiceUnavailable, "too many sessions")
		return
	}
	peer, answer, _, err := room.Subscribe(id.UserID, offer, first)
	if err != nil {
		release()
		s.sessions.remove(ms)
		httpError(w, statusOf(err), refusal(err))
		return
	}
	s.sessions.attach(ms, peer)
	s.wg.Add(1)
	go s.watch(ms, release)
	writeAnswer(w, ms, answer)
}
