package whip

import (
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/pion/webrtc/v4"

	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal/token"
)

const (
	kindWHIP = "whip"
	kindWHEP = "whep"
	// maxSessions bounds the WHIP+WHEP sessions of one server; beyond it a
	// POST gets 503.
	maxSessions = 20_000
	// maxFragCandidates bounds the candidates of one trickle PATCH.
	maxFragCandidates = 64
)

// session is one WHIP or WHEP session: the resource at its Location, the
// peer connection behind it, and who may end it.
type session struct {
	id   string
	etag string
	kind string // kindWHIP or kindWHEP
	room string
	user string
	// presence: a WHIP session of the room's owner holds the owner's
	// presence (Presence.Hold) while it lives.
	presence bool
	// ufrag is the client's ICE username fragment; a PATCH with another one
	// is an ICE restart.
	ufrag    string
	firstMid string

	peer *sfu.Peer // nil while the POST that reserved it is still answering
}

func (ms *session) location() string { return "/" + ms.kind + "/" + ms.room + "/" + ms.id }

// sessions is the bounded table of live WHIP/WHEP sessions. Its lock is a
// leaf: nothing is called while it is held.
type sessions struct {
	mu   sync.Mutex
	byID map[string]*session
}

func newSessions() *sessions { return &sessions{byID: make(map[string]*session)} }

// reserve enters ms before its peer exists, so the table's bound holds
// while the POST is answered. False when full.
func (m *sessions) reserve(ms *session) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.byID) >= maxSessions {
		return false
	}
	m.byID[ms.id] = ms
	return true
}

// attach records the peer of a reserved session.
func (m *sessions) attach(ms *session, p *sfu.Peer) {
	m.mu.Lock()
	ms.peer = p
	m.mu.Unlock()
}

// remove forgets ms; true if it was still there (exactly one caller wins).
func (m *sessions) remove(ms *session) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byID[ms.id] != ms {
		return false
	}
	delete(m.byID, ms.id)
	return true
}

// find returns a session that has a peer.
func (m *sessions) find(id string) *session {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ms := m.byID[id]; ms != nil && ms.peer != nil {
		return ms
	}
	return nil
}

// count is the number of sessions (tests, metrics).
func (m *sessions) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byID)
}

// watch owns a session from its 201 on: it ends when the peer closes
// (DELETE, the sfu closing a publisher that lost its seat, the room ending,
// ICE failure) or when the server shuts down, and then forgets the session.
// The caller has added it to s.wg.
func (s *Server) watch(ms *session, ended func()) {
	defer s.wg.Done()
	select {
	case <-ms.peer.Done():
	case <-s.ctx.Done():
		_ = ms.peer.Close()
	}
	s.sessions.remove(ms)
	if ended != nil {
		ended()
	}
}

// sessionFor authorizes a request on a session resource: 401 for a bad
// token, 404 for an unknown session (or one of another room or protocol),
// 403 for someone else's.
func (s *Server) sessionFor(w http.ResponseWriter, r *http.Request, kind string) (*session, bool) {
	id, ok := s.authorize(w, r)
	if !ok {
		return nil, false
	}
	sid := r.PathValue("session")
	var ms *session
	if validSessionID(sid) {
		ms = s.sessions.find(sid)
	}
	if ms == nil || ms.kind != kind || ms.room != id.Room {
		httpError(w, http.StatusNotFound, "no such session")
		return nil, false
	}
	if !sameUser(ms, id) {
		httpError(w, http.StatusForbidden, "the session belongs to someone else")
		return nil, false
	}
	return ms, true
}

func sameUser(ms *session, id token.Identity) bool { return ms.user == id.UserID }

// deleteSession ends a session: 200, and the resource is gone at once (a
// second DELETE is 404).
func (s *Server) deleteSession(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cors(w)
		ms, ok := s.sessionFor(w, r, kind)
		if !ok {
			return
		}
		if s.sessions.remove(ms) {
			// The watcher sees Done and runs what follows the end.
			_ = ms.peer.Close()
		}
		w.WriteHeader(http.StatusOK)
	}
}

// patchSession applies a trickle-ICE fragment (RFC 8840) to the
// session: 204. An ICE restart (new ufrag/pwd) is not supported: 422, as
// RFC 9725 §4.3.2 asks of a session that trickles but does not restart; the
// client starts a new session instead. If-Match must name the session's
// ETag (or "*"): 412 otherwise.
func (s *Server) patchSession(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cors(w)
		ms, ok := s.sessionFor(w, r, kind)
		if !ok {
			return
		}
		if im := r.Header.Get("If-Match"); im != "" && im != "*" && im != ms.etag {
			httpError(w, http.StatusPreconditionFailed, "If-Match does not name this session")
			return
		}
		body, ok := readBody(w, r, contentTypeSDPFrag)
		if !ok {
			return
		}
		frag, err := parseFragment(body, ms.firstMid)
		if err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		if frag.ufrag != "" && frag.ufrag != ms.ufrag {
			httpError(w, http.StatusUnprocessableEntity, "ICE restart is not supported: start a new session")
			return
		}
		for _, c := range frag.candidates {
			if err := ms.peer.AddCandidate(c); err != nil {
				httpError(w, http.StatusBadRequest, "bad candidate")
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// fragment is what a trickle-ice-sdpfrag carries that the server uses.
type fragment struct {
	ufrag      string
	candidates []webrtc.ICECandidateInit
}

var errBadFragment = errors.New("bad trickle-ice-sdpfrag")

// parseFragment reads the a=ice-ufrag, a=mid and a=candidate lines of a
// fragment; candidates take the mid of the m-line they follow, or the
// offer's first (BUNDLE carries everything on one transport).
func parseFragment(body, firstMid string) (fragment, error) {
	var f fragment
	mid := firstMid
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case line == "":
		case strings.HasPrefix(line, "a=ice-ufrag:"):
			f.ufrag = strings.TrimPrefix(line, "a=ice-ufrag:")
		case strings.HasPrefix(line, "a=mid:"):
			mid = strings.TrimPrefix(line, "a=mid:")
		case strings.HasPrefix(line, "a=candidate:"):
			if len(f.candidates) == maxFragCandidates {
				return fragment{}, errors.New("too many candidates in one fragment")
			}
			m := mid
			c := webrtc.ICECandidateInit{Candidate: strings.TrimPrefix(line, "a=")}
			if m != "" {
				c.SDPMid = &m
			} else {
				zero := uint16(0)
				c.SDPMLineIndex = &zero
			}
			f.candidates = append(f.candidates, c)
		case len(line) < 2 || line[1] != '=':
			return fragment{}, errBadFragment
		}
	}
	return f, nil
}
