package rtcconn

import "net/netip"

// Outbox carries a connected viewer's small UDP datagrams — answers to its
// consent checks, our own checks, DTLS after the handshake — out with the
// node's next batch of media (issue 16). Each of them alone was a sendto
// of its own, at a moment no media was being sent: at 100 viewers about a
// hundred a second, each a system call and a wake-up of whatever reads the
// viewer's socket, about 5 % of the node's CPU in the bench. Riding in a
// sendmmsg the writers make anyway, they cost a message each.
//
// Before the handshake finishes nothing waits: ICE's checks and DTLS's
// flights are how fast a viewer joins. After it, the outbox bounds the
// wait (the SFU's outbox: a few milliseconds), which consent checks
// (RFC 7675: one every few seconds, 30 s to answer) do not notice; the
// round-trip time an agent measures from its checks grows by as much.
type Outbox interface {
	// Post takes a copy of b, to be sent to to; false when it cannot
	// (full, too large, closed): the caller then sends it at once.
	Post(b []byte, to netip.AddrPort) bool
}
