// Package sfu holds rooms and their media: peer connections, seat-gated
// publishing, seat-slot forwarding and routing. A Room owns the room's seat
// controller behind one mutex: every seat decision is taken, its media effect
// applied and its notifications handed to the edge, in that order, under that
// mutex.
//
// The files split the work:
//
//   - api.go: the package's surface — Config, the media errors, Notifier.
//   - sfu.go: the room registry, the one ICE UDP port and the package's
//     lock order; engine.go builds
//     the webrtc.APIs (publishers' and subscribers', with their deliberately
//     chosen interceptors); sdp.go bounds what an offer may hold.
//   - room.go: the seat decisions and the reconcile that turns seat state
//     into forwarding; peer.go a server-side peer connection and the
//     goroutines it owns.
//   - publish.go: publishers and their up-tracks; upstream.go what an
//     up-track asks of its publisher (coalesced keyframe requests, NACKs for
//     packets the SFU never got, the publisher's sender reports, cache sizing
//     from viewers' RTT); packet.go the received packets every viewer shares.
//   - subscribe.go: answering a subscribe offer and laying out its seat
//     slots; viewer.go a viewer's slots and its bounded queue;
//     slottrack.go a slot's TrackLocal; pace.go the paced replay of a cached
//     group of pictures to a starting slot.
//   - Egress (issue 16): writers.go the SFU's small pool of writers that
//     serve every viewer's queue (no goroutine per viewer); egress.go the
//     direct path — SRTP by the SFU into the writer's batch, one sendmmsg
//     on the media socket — for viewers on a host-UDP pair, Pion's stack
//     for the rest, behind the one TrackLocalWriter every sender uses;
//     egress_keys.go the connection's SRTP keys from its DTLS handshake;
//     egress_seal.go the direct path's own AEAD SRTP sealing (RFC 7714),
//     pion/srtp's Context kept for the AES-CM profile and for SRTCP.
//   - viewerconn.go: viewers on the SFU's own transport below ICE
//     (sfu/rtcconn: the node's demux, ICE responder, DTLS for the keys,
//     SRTCP, ICE-TCP, the answer) instead of a Pion PeerConnection each,
//     and the policy of who gets it (--viewer-transport);
//     viewerconn_peer.go such a viewer's Peer and Subscribe;
//     egress_own.go its direct-path keys, address changes, ICE-TCP
//     writes and sender reports.
//   - feedback.go: the viewers' RTCP, read once per connection by Pion's
//     SRTCP session (NACKs served from the shared cache,
//     over RTX when negotiated; keyframe requests); report.go the viewers'
//     sender reports.
//   - cohost.go: co-host slots (PROTOCOL.md §10) — the pairs after a room's
//     seats carry the other rooms' owners, as guests of those rooms' seat 0.
//     cohost_adapt.go: their layer selection (rtc.setQuality {cohostIndex},
//     rtc.quality, the allocator) under the other room's lock.
//   - Real networks (PROTOCOL.md §9): turn.go the embedded TURN server and
//     its token-derived credentials (ICE-TCP is engine.go's); simulcast.go a
//     publisher's layers, one source each; selector.go which layer each
//     viewer slot carries and the switch on the target's keyframe;
//     quality.go rtc.quality and rtc.publisherLayers; bwe.go the
//     transport-wide numbering and feedback feeding a viewer's estimator
//     (media.DownlinkEstimator); allocate.go sharing the estimate among
//     the viewer's slots.
//   - overload.go: the node's caps past what it can send (egress budget
//     for new subscribers, retransmission and keyframe-request budgets).
//   - metrics.go: the media metrics (PROTOCOL.md §7, §9); eventlog.go the
//     operator's INFO lines of a room's life (opened, seats taken and left,
//     hosts in and out, ended); pionlog.go Pion's logs, with the warnings
//     that say nothing is wrong demoted to DEBUG.
//
// The lock order is written at SFU.mu (sfu.go).
//
// sfu/nettest proves the media side through a lossy relay, over ICE-TCP and
// TURN, and under a capped downlink.
package sfu
