package proto

import "encoding/json"

// The JSON-RPC 2.0 envelope (PROTOCOL.md §3): one request or one answer per
// WebSocket text frame, no batches.

// Version is the only "jsonrpc" member the server accepts.
const Version = "2.0"

// Call is a client's request frame. ID is a string or a number; the server
// echoes it exactly, so it stays raw.
type Call struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  any             `json:"params"`
}

// Response answers one Call: Result on success, Error otherwise.
type Response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *Error          `json:"error,omitempty"`
}

// Notification is a server → client message that nobody answers.
type Notification struct {
	JSONRPC string `json:"jsonrpc"`
	Method  string `json:"method"`
	Params  any    `json:"params"`
}

// Frame is any frame the server sends, as a client reads it: a
// Notification when Method is set, else a Response.
type Frame struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *Error          `json:"error,omitempty"`
}

// Error is the error object of a refused call: the JSON-RPC code, a human
// message and, in data, the snake_case reason clients act on.
type Error struct {
	Code    int       `json:"code"`
	Message string    `json:"message"`
	Data    ErrorData `json:"data"`
}

// ErrorData carries an error's reason.
type ErrorData struct {
	Reason Reason `json:"reason"`
}

// NewError is reason's error object, its code from the one table.
func NewError(reason Reason, message string) *Error {
	return &Error{Code: reason.Code(), Message: message, Data: ErrorData{Reason: reason}}
}

func (e *Error) Error() string { return string(e.Data.Reason) + ": " + e.Message }

// Empty is the {} result of methods that answer nothing, and the params of
// notifications that carry nothing (session.replaced).
type Empty struct{}
