// Package proto is seatsfu's wire protocol, and nothing else: every JSON-RPC
// method and notification name, every params, result and notification body,
// and every error reason with its numeric code (PROTOCOL.md). The server
// (signal), the Go SDK (signal/client), the test clients (signal/signaltest)
// and the JavaScript SDK's constants all take them from here, so the
// protocol is written once.
//
// proto imports nothing of the project: the domain packages (seat, and the
// co-host controller) speak in their own types, and the edge converts.
package proto
