// Package client is the Go SDK for seatsfu's signalling protocol (JSON-RPC
// 2.0 over a WebSocket, PROTOCOL.md §3). It mirrors Tencent TUILiveKit's
// CoGuestStore so apps written against that store port with little change:
// typed methods for every seat flow, a store of seats and pending requests
// kept up to date from notifications, and HostListener / GuestListener
// callbacks. Co-hosting and battles (PROTOCOL.md §10) follow the same
// style in cohost.go: RequestCohost and its answers, LeaveCohost,
// StartBattle/StopBattle, the CohostRooms/Battle/CohostRequests store and a
// CohostListener.
//
// # Goroutines
//
// A Client owns exactly two goroutines: the reader, which reads every frame,
// completes calls and updates the store in wire order, and the dispatcher,
// which runs listener callbacks one at a time, in the order the server sent
// the notifications. Both end when the socket closes; Close waits for them.
//
// # A slow listener
//
// Notifications wait for the dispatcher in a bounded queue (WithQueueSize,
// default 1024). The store never lags: it is updated by the reader before a
// notification is queued. If a listener is so slow that the queue fills,
// the client does not drop notifications silently and does not block the
// reader (which would stall call results and the server's pings): it closes
// the connection and Err reports ErrSlowListener. Listeners must not call
// Close synchronously (Close waits for the dispatcher); call it from another
// goroutine, or cancel a context the owner of the client watches.
//
// # The event log
//
// Every notification (and every response without a matching call, such as
// the answer to an unparsable frame) is also appended to a bounded event log
// (WithEventLog, default 1024 entries, the oldest overwritten first; a
// negative size turns it off). NextEvent and Events read it; tests and simple
// tools use them instead of listeners.
package client
