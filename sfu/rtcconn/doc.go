// Package rtcconn is a viewer's WebRTC transport below ICE, owned by the
// SFU instead of a whole Pion PeerConnection per viewer (issue 16: a
// PeerConnection costs ~13 goroutines and a few hundred KiB at rest).
//
// A viewer only receives media and sends RTCP, so it needs far less than
// a PeerConnection: an ICE responder, one DTLS handshake for the SRTP
// keys, and SRTCP decryption. All of it runs on the node's one UDP media
// port (PROTOCOL.md §5) and costs no goroutine per viewer at rest:
//
//   - mux.go: the node-wide demultiplexer. One read loop owns the media
//     socket; datagrams from a viewer's known address, and STUN requests
//     whose USERNAME names a viewer's ufrag, go to that viewer's
//     Transport; everything else goes unchanged to Pion's UDP mux (the
//     publishers' PeerConnections) through PionConn, a net.PacketConn fed
//     by a bounded queue. One timer loop drives every viewer's consent
//     checks (RFC 7675) and DTLS lifetime.
//   - ice.go: full ICE, controlled side (PROTOCOL.md §5 asks for full ICE,
//     not ICE-lite): Binding requests are answered, a triggered check is
//     sent back to each new address, USE-CANDIDATE moves the viewer to
//     the nominated address, and consent is refreshed by our own checks.
//   - dtls.go: the DTLS server (setup:passive) over a per-viewer packet
//     conn fed by the demux, torn down without close_notify once the
//     viewer has surely finished (its first authenticated SRTCP), its last
//     flight kept to answer a late retransmission.
//   - answer.go: the SDP answer, built with pion/sdp like Pion's own for
//     the same offer; it never renegotiates (PROTOCOL.md §5).
//   - tcp.go: ICE-TCP (RFC 4571 framing) on the node's shared TCP
//     listener, split the same way; one reader goroutine per viewer TCP
//     connection — only viewers whose networks block UDP take it.
//
// What this transport cannot carry — the SFU's TURN relay candidates
// (PROTOCOL.md §9) — stays on Pion: the caller decides per node (see the
// sfu package's viewer-transport setting).
package rtcconn
