// Package signaltest starts a complete seatsfu edge (sfu + signal + an HTTP
// server on 127.0.0.1) for end-to-end tests, mints tokens for it, and offers
// a small raw JSON-RPC client (Conn) that shows exactly what the wire
// carries.
package signaltest
