package signal

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/signal/proto"
)

// The edge's own refusals: JSON-RPC's errors for frames that never reach a
// method, and the rate limit (PROTOCOL.md §3). Like the rules' refusals they
// are *seat.Error — a reason and a message — so every error the edge sends
// takes one path to the wire: encodeError gives the reason its code.
var (
	errParse          = edgeErr(proto.ReasonParseError, "the frame is not JSON")
	errInvalidRequest = edgeErr(proto.ReasonInvalidRequest, "not a JSON-RPC 2.0 request object")
	errNoMethod       = edgeErr(proto.ReasonMethodNotFound, "unknown method")
	errInternal       = edgeErr(proto.ReasonInternal, "internal error")
	errRateLimited    = edgeErr(proto.ReasonRateLimited, "too many requests")
	errAlreadyJoined  = edgeErr(proto.ReasonInvalidParams, "this socket already joined the room")
)

func edgeErr(r proto.Reason, msg string) *seat.Error {
	return &seat.Error{Reason: string(r), Message: msg}
}

// request is one decoded client frame. ID is kept raw so the response echoes
// exactly what the client sent (a string or a number).
type request struct {
	ID     json.RawMessage
	Method string
	Params json.RawMessage
}

// decodeFrame checks that a text frame is exactly one JSON-RPC 2.0 request.
// When it is not, the returned error is one of the JSON-RPC errors and
// req.ID holds the request's id if one could be read (so the error response
// can still be matched by the client), or is nil.
func decodeFrame(frame []byte) (request, *seat.Error) {
	var req request
	if !json.Valid(frame) {
		return req, errParse
	}
	trimmed := bytes.TrimLeft(frame, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		// Arrays (batches) and bare values are not requests; batches are
		// deliberately unsupported: one frame, one request.
		return req, errInvalidRequest
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(frame, &fields); err != nil {
		return req, errInvalidRequest
	}
	if id, ok := fields["id"]; ok && validID(id) {
		req.ID = id
	}
	if !utf8.Valid(frame) {
		// encoding/json would silently turn the bad bytes into U+FFFD and
		// relay them; a text frame must be UTF-8 (RFC 6455 §5.6).
		return req, withMessage(errParse, "the frame is not valid UTF-8")
	}
	for k := range fields {
		switch k {
		case "jsonrpc", "id", "method", "params":
		default:
			return req, withMessage(errInvalidRequest, "unknown member "+truncate(k, 32))
		}
	}
	if v, ok := fields["jsonrpc"]; !ok || string(v) != `"2.0"` {
		return req, withMessage(errInvalidRequest, `"jsonrpc" must be "2.0"`)
	}
	if req.ID == nil {
		// Absent, null or of the wrong type: every method answers, so a
		// frame without a usable id is a mistake worth telling the client
		// about rather than a silent JSON-RPC notification.
		return req, withMessage(errInvalidRequest, `"id" must be a string or a number`)
	}
	raw, ok := fields["method"]
	if !ok || json.Unmarshal(raw, &req.Method) != nil || req.Method == "" {
		return req, withMessage(errInvalidRequest, `"method" must be a non-empty string`)
	}
	req.Params = fields["params"]
	return req, nil
}

// validID accepts the id types we answer to: strings and numbers.
func validID(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return false
	}
	switch c := raw[0]; {
	case c == '"':
		return true
	case c == '-' || (c >= '0' && c <= '9'):
		return true
	}
	return false
}

// decodeParams decodes a method's params strictly: an object (or nothing),
// every field of the right type, no unknown field.
func decodeParams(raw json.RawMessage, into any) *seat.Error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		raw = []byte("{}")
	}
	if raw[0] != '{' {
		return withMessage(seat.ErrInvalidParams, "params must be an object")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return withMessage(seat.ErrInvalidParams, "params: "+truncate(err.Error(), 200))
	}
	if err := check(into); err != nil {
		return asSeatError(err)
	}
	return nil
}

// asSeatError gives any error the contract's shape. Errors that are not
// seat.Errors are internal faults: the client learns only that.
func asSeatError(err error) *seat.Error {
	var se *seat.Error
	if errors.As(err, &se) {
		return se
	}
	return errInternal
}

func withMessage(base *seat.Error, msg string) *seat.Error {
	return &seat.Error{Reason: base.Reason, Message: msg}
}

func invalidParams(msg string) *seat.Error { return withMessage(seat.ErrInvalidParams, msg) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// --- frames the server sends ---

func encodeResult(id json.RawMessage, result any) ([]byte, error) {
	if result == nil {
		result = proto.Empty{}
	}
	return json.Marshal(proto.Response{JSONRPC: proto.Version, ID: id, Result: result})
}

// encodeError is the one place a refusal gets its numeric code.
func encodeError(id json.RawMessage, e *seat.Error) []byte {
	b, err := json.Marshal(proto.Response{JSONRPC: proto.Version, ID: id,
		Error: proto.NewError(proto.Reason(e.Reason), e.Message)})
	if err != nil { // cannot happen: every field is a plain string or int
		return []byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"internal error","data":{"reason":"internal_error"}}}`)
	}
	return b
}

func encodeNotification(method string, params any) ([]byte, error) {
	return json.Marshal(proto.Notification{JSONRPC: proto.Version, Method: method, Params: params})
}
