// Package signaltest starts a complete seatsfu edge (sfu + signal + an HTTP
// server on 127.0.0.1) for end-to-end tests, mints tokens for it, and offers
// a small raw JSON-RPC client (Conn) that shows exactly what the wire
// carries. For media tests it has Pion peers on loopback (Publisher,
// Viewer), WHIP/WHEP exchanges over HTTP that keep no connection, SDK
// members, and RoomState: what a refused request must leave unchanged.
// It uses only the server's exported API.
package signaltest
