// Package webhook tells an app's backend what happens in its rooms
// (PROTOCOL.md §11): each event is POSTed as {"id", "event", "createdAt",
// "roomId", "data"} to every configured URL, signed with the server's secret
// in the Seatsfu-Signature header.
//
// Guarantees and how they are kept:
//
//   - Never slows a room. Emit only appends to an in-memory queue under a
//     short mutex and returns; encoding and HTTP happen on the receiver's
//     own worker goroutines. A full queue drops the new event and counts it
//     in seatsfu_webhook_dropped_total{reason="queue_full"}.
//   - In order per room. Each receiver keeps one FIFO per room and delivers
//     only its head: the next event of a room waits until the one before it
//     is acknowledged (2xx) or given up on. Rooms do not wait for each
//     other.
//   - At least once, with stable ids. A failed delivery is retried with the
//     same id and body (a fresh signature timestamp) after 1 s, 2 s, 4 s …
//     capped at 30 s, each scaled by a random factor in [0.5, 1) so a
//     restarted receiver is not hit by every room at the same instant. It
//     is given up on (dropped_total{reason="gave_up"}) only once it has been
//     failing for RetryFor (default 10 minutes).
//   - Bounded. A receiver holds at most QueueSize events in all and
//     RoomQueueSize per room, and runs Workers deliveries at a time, each
//     bounded by AttemptTimeout, so a receiver that hangs costs a few
//     goroutines and a bounded amount of memory.
//   - After the state it describes (HoldUntil). A cluster node holds a
//     room's event until Redis has the room state it announces; the
//     room's later events queue behind it, other rooms do not wait, and
//     no worker blocks meanwhile.
//
// Time comes from an injected Clock, so tests of ten minutes of retries run
// in milliseconds.
package webhook
