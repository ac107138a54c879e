// Package signal is seatsfu's signalling edge: the HTTP mux, the JSON-RPC 2.0
// WebSocket sessions of PROTOCOL.md §3 (token checks, framing, rate limits,
// pings), the routing of each room's seat notifications to its members, the
// edge's metrics, and the demo token endpoint.
//
// Its neighbours each do one job: signal/proto is the wire protocol (every
// name, params, result, notification body and error code), wire.go the one
// converter from the seat controller's domain types to it; signal/whip the
// WHIP/WHEP doors, which take the room and its presence from this package
// (presence.go); signal/token the tokens; signal/client the Go SDK;
// signal/demo the demo page and the browser SDK; signal/signaltest a whole
// edge for end-to-end tests.
//
// Data path of a request: the socket's reader decodes one frame, checks it,
// and runs the method; seat methods go through sfu.Room.Do, which decides,
// applies the media effects and calls the room's hub (an sfu.Notifier) under
// the room's lock; the hub encodes each notification once and queues it on
// every target socket without blocking; each socket's writer drains its own
// bounded queue, running only while frames wait (outqueue.go). A quiet
// socket costs one goroutine, its reader (upgrade.go).
package signal
