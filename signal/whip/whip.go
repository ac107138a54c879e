package whip

import (
	"errors"
	"net/http"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/token"
)

// WHIP (RFC 9725): POST /whip/{room} publishes a seated user's media.
//
// The owner is special twice over. Its token opens the room when nobody
// has (the owner always holds seat 0, and an encoder such as OBS has no
// signalling socket to open it with), and while its WHIP session lives it
// counts as the owner's presence (Presence.Hold): a dropped signalling
// socket does not start the reconnect grace, and when the WHIP session ends
// with no socket left, the owner disconnects like a dropped socket — grace,
// then owner_timeout.

// admitOffer runs the checks every WHIP and WHEP POST starts with, cheapest
// first — CORS headers, rate (429), token (401), content type and size
// (415/413), SDP shape (400/422) — and answers any refusal itself.
func (s *Server) admitOffer(w http.ResponseWriter, r *http.Request, publish bool) (token.Identity, string, offerInfo, bool) {
	cors(w)
	if !s.allowPost(w, r) {
		return token.Identity{}, "", offerInfo{}, false
	}
	id, ok := s.authorize(w, r)
	if !ok {
		return token.Identity{}, "", offerInfo{}, false
	}
	offer, ok := readBody(w, r, contentTypeSDP)
	if !ok {
		return token.Identity{}, "", offerInfo{}, false
	}
	info, err := inspectOffer(offer, publish)
	if err != nil {
		httpError(w, statusOf(err), err.Error())
		return token.Identity{}, "", offerInfo{}, false
	}
	return id, offer, info, true
}

// postWHIP answers a WHIP offer. Checks run cheapest first and every
// refusal leaves the rooms as they were: rate (429), token (401), content
// type (415), body size (413), SDP (400/422), room (404), seat (403).
func (s *Server) postWHIP(w http.ResponseWriter, r *http.Request) {
	id, offer, info, ok := s.admitOffer(w, r, true)
	if !ok {
		return
	}
	if !s.enter(w) {
		return
	}
	defer s.wg.Done()

	ms := &session{
		id: newID(), etag: `"` + newID() + `"`, kind: kindWHIP, room: id.Room, user: id.UserID,
		presence: id.Role == proto.RoleOwner, ufrag: info.ufrag, firstMid: info.firstMid,
	}
	if !s.sessions.reserve(ms) {
		httpError(w, http.StatusServiceUnavailable, "too many sessions")
		return
	}
	existed := s.cfg.SFU.Room(id.Room) != nil
	room, presence, err := s.cfg.Edge.Open(id)
	if err != nil {
		s.sessions.remove(ms)
		httpError(w, statusOf(err), refusal(err))
		return
	}
	if ms.presence {
		// Counted before the offer is published, so an older WHIP session
		// this one replaces never sees the owner absent in between.
		if err := presence.Hold(id); err != nil {
			// Not this room's owner: nothing was changed.
			s.sessions.remove(ms)
			httpError(w, statusOf(err), refusal(err))
			return
		}
	}
	peer, answer, err := room.Publish(id.UserID, offer)
	if err != nil {
		s.sessions.remove(ms)
		if ms.presence {
			// A room this request opened, with nobody else in it, closes
			// again: a refused offer must not leave a room behind.
			presence.Release(id.UserID, !existed)
		}
		httpError(w, statusOf(err), refusal(err))
		return
	}
	s.sessions.attach(ms, peer)
	var ended func()
	if ms.presence {
		ended = func() { presence.Release(id.UserID, false) }
	}
	s.wg.Add(1)
	go s.watch(ms, ended)
	s.log.Info("whip: session started", "room", id.Room, "user", id.UserID, "session", ms.id)
	writeAnswer(w, ms, answer)
}

// offerInfo is what the doors read from an offer before the sfu sees it.
type offerInfo struct {
	ufrag    string
	firstMid string
}

var (
	errUnparsableSDP = &seat.Error{Reason: sfu.ErrBadSDP.Reason, Message: "the offer is not valid SDP"}
	errNoMedia       = &seat.Error{Reason: sfu.ErrBadSDP.Reason, Message: "the offer has no m-line"}
)

// inspectOffer parses an offer (400 when it does not parse or has no
// m-line) and, for WHIP, refuses more than one audio and one video m-line
// with sfu.ErrTooManyMLines (422) — before a room is opened or touched.
func inspectOffer(offer string, publish bool) (offerInfo, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(offer); err != nil {
		return offerInfo{}, errUnparsableSDP
	}
	if len(sd.MediaDescriptions) == 0 {
		return offerInfo{}, errNoMedia
	}
	var info offerInfo
	info.ufrag, _ = sd.Attribute("ice-ufrag")
	count := map[string]int{}
	for i, md := range sd.MediaDescriptions {
		if i == 0 {
			info.firstMid, _ = md.Attribute("mid")
			if u, ok := md.Attribute("ice-ufrag"); ok {
				info.ufrag = u
			}
		}
		count[md.MediaName.Media]++
	}
	if publish && (count["audio"] > 1 || count["video"] > 1 || count["audio"]+count["video"] < len(sd.MediaDescriptions)) {
		return offerInfo{}, errors.Join(sfu.ErrBadSDP, sfu.ErrTooManyMLines)
	}
	return info, nil
}

// refusal is the body of a refused POST: the protocol's reason and its
// human text.
func refusal(err error) string {
	var se *seat.Error
	if errors.As(err, &se) {
		return se.Reason + ": " + se.Message
	}
	if statusOf(err) == http.StatusInternalServerError {
		return "internal error"
	}
	return strings.TrimSpace(err.Error())
}

// writeAnswer sends 201 with the answer, the session's Location and ETag.
func writeAnswer(w http.ResponseWriter, ms *session, answer string) {
	h := w.Header()
	h.Set("Content-Type", contentTypeSDP)
	h.Set("Location", ms.location())
	h.Set("ETag", ms.etag)
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte(answer))
}
