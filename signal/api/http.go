package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/signal/proto"
	"github.com/seatsfu/seatsfu/signal/token"
)

// authenticate checks the service token: none or bad → 401, a member's
// token → 403. It returns status 0 when the caller may go on.
func (a *API) authenticate(r *http.Request) (int, string, string) {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return http.StatusUnauthorized, proto.APIReasonUnauthorized, "send Authorization: Bearer <service token>"
	}
	_, err := token.VerifyService(a.cfg.Secret, strings.TrimSpace(h[len(prefix):]))
	switch {
	case err == nil:
		return 0, "", ""
	case errors.Is(err, token.ErrUserToken):
		return http.StatusForbidden, proto.APIReasonForbidden, "a room member's token may not use the server API; mint a service token"
	default:
		return http.StatusUnauthorized, proto.APIReasonUnauthorized, "invalid service token"
	}
}

// decodeBody reads one JSON object of the route's body type, strictly: no
// unknown fields, nothing after it, at most MaxBody bytes. An empty body is
// the empty object (every API body has only optional fields or says so).
func decodeBody(w http.ResponseWriter, r *http.Request, zero any) (any, error) {
	v := reflect.New(reflect.TypeOf(zero)).Interface()
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		return nil, fmt.Errorf("body over %d bytes", MaxBody)
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		raw = []byte("{}")
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return nil, fmt.Errorf("body: %v", err)
	}
	if dec.More() {
		return nil, errors.New("body: one JSON object only")
	}
	return v, nil
}

// statusOf maps a refusal's reason to its HTTP status (PROTOCOL.md §11):
// bad input 400, nothing there 404, the state forbids it 409, the node
// cannot serve it now 503 (in a cluster: the room's host unreachable, or
// Redis down — the caller should retry).
var statusOf = map[string]int{
	string(proto.ReasonInvalidParams):    http.StatusBadRequest,
	string(proto.ReasonSeatIndexInvalid): http.StatusBadRequest,

	string(proto.ReasonRoomNotFound): http.StatusNotFound,
	string(proto.ReasonNotJoined):    http.StatusNotFound,
	proto.APIReasonNotBanned:         http.StatusNotFound,
	proto.APIReasonBattleNotFound:    http.StatusNotFound,
	proto.APIReasonNotFound:          http.StatusNotFound,

	string(proto.ReasonPermission):       http.StatusConflict,
	string(proto.ReasonNotSeated):        http.StatusConflict,
	string(proto.ReasonSeatOccupied):     http.StatusConflict,
	string(proto.ReasonSeatLocked):       http.StatusConflict,
	string(proto.ReasonBattleNotRunning): http.StatusConflict,
	proto.APIReasonNotInBattle:           http.StatusConflict,

	string(proto.ReasonOverloaded): http.StatusServiceUnavailable,
}

// apiError is a refusal the API itself makes (not the rooms').
type apiError struct {
	status          int
	reason, message string
}

func (e *apiError) Error() string { return e.reason + ": " + e.message }

func badRequest(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, string(proto.ReasonInvalidParams), fmt.Sprintf(format, args...)}
}

func (a *API) classify(err error) (int, string, string) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status, ae.reason, ae.message
	}
	var se *seat.Error
	if errors.As(err, &se) {
		if status, ok := statusOf[se.Reason]; ok {
			return status, se.Reason, se.Message
		}
	}
	switch {
	case errors.Is(err, ErrBattleNotFound):
		return http.StatusNotFound, proto.APIReasonBattleNotFound, err.Error()
	case errors.Is(err, ErrRoomNotInBattle):
		return http.StatusConflict, proto.APIReasonNotInBattle, err.Error()
	}
	a.log.Error("api: operation failed", "err", err)
	return http.StatusInternalServerError, string(proto.ReasonInternal), "internal error"
}

func writeError(w http.ResponseWriter, status int, reason, message string) {
	writeJSON(w, status, proto.APIError{Error: proto.APIErrorBody{Reason: reason, Message: message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"reason":"internal_error","message":"encode"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// pathID reads an id path parameter (§2's charset).
func pathID(r *http.Request, name string) (string, error) {
	v := r.PathValue(name)
	if !token.ValidID(v) {
		return "", badRequest("%s must be 1-128 characters of [A-Za-z0-9_.-]", name)
	}
	return v, nil
}

// pathIndex reads a seat index path parameter.
func pathIndex(r *http.Request) (int, error) {
	n, err := strconv.Atoi(r.PathValue("index"))
	if err != nil {
		return 0, badRequest("index must be a seat number")
	}
	return n, nil
}

// page reads ?cursor= and ?limit= (1..MaxLimit).
func page(r *http.Request, def int) (string, int, error) {
	q := r.URL.Query()
	limit := def
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			return "", 0, badRequest("limit must be 1..%d", MaxLimit)
		}
		limit = n
	}
	cursor := q.Get("cursor")
	if len(cursor) > 256 {
		return "", 0, badRequest("cursor is too long")
	}
	return cursor, limit, nil
}

func statusLabel(status int) string { return strconv.Itoa(status) }

func validID(s string) bool { return token.ValidID(s) }
