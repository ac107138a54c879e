// Package cluster lets several seatsfu nodes that share one Redis and one
// secret serve as one service (PROTOCOL.md §12): a node registry, room
// leases with fencing, the room's state in Redis, and takeover of the rooms
// of a node that died. Redis carries discovery, leases, room state and
// routing — never media, never per-packet work.
//
// Built (this package, internal/redistest, seat.Export/Restore):
//
//   - Store: every Redis operation, each bounded by OpTimeout, one Lua
//     script where a check guards a write. Redis unreachable → ErrUnavailable
//     at once (no client retries, one dial attempt), counted in
//     seatsfu_redis_errors_total{op}, seatsfu_redis_up 0.
//   - Registry: NodeInfo (id, node-addr, HTTP addr, load) under a key with a
//     TTL plus a zset of expiries; Nodes drops the expired and sets
//     seatsfu_nodes. Node ids are fresh per process start.
//   - Leases: "<fence>:<node>" with a Redis TTL; a claim of a free lease
//     INCRs the room's fence. Save, Renew and End run luaHold first, so a
//     node whose lease was taken (fence moved on) can write nothing, whatever
//     it believes. A holder whose lease lapsed while nobody claimed it takes
//     it back with the same fence (a GC pause or a short Redis outage does
//     not cost the room).
//   - State: an opaque blob with a version; an older version never
//     overwrites a newer one. EncodeState/DecodeState turn seat.State into it.
//   - Node: one goroutine per process; every Tick it heartbeats, renews all
//     its leases in one pipeline, rewrites states Redis lacks (a Redis that
//     came back empty), and claims orphans (leases expired): every live node
//     scans, the claim script lets exactly one win. Hosted.Stage (no I/O,
//     under the room's lock) and Hosted.Flush (outside it) keep Redis off
//     the room's critical section.
//   - Node.Route: which node hosts a room (cached one Tick; served stale,
//     marked so, while Redis is down), for the relay below.
//   - MintLinkToken/VerifyLinkToken: the node link's authentication.
//   - RestoreRoom: the takeover recipe (decode, seat.Restore, every member
//     that was connected to the dead node starts its grace).
//   - internal/nodelink: the link itself — authenticated WebSocket on
//     --node-addr, frames {session, kind, payload}, bounded send queue, one
//     link per pair (Pool), and Stream: a session's numbered, acknowledged
//     messages, re-sent on a new link after a drop (nothing lost or twice).
//
// Timings: LeaseTTL 3 s, Tick 500 ms: a dead node's rooms are hosted
// elsewhere within LeaseTTL + Tick = 3.5 s, inside the 5 s of §12
// (TestTakeoverWithinFiveSeconds measures it). Each is a setting.
//
// # Built on top: wiring, relay, cascade, failover
//
// Wiring (cmd/seatsfu/cluster.go). --redis, --node-addr, --public-url,
// --cluster-tick, --lease-ttl, --node-ttl, --redis-timeout (flag + env +
// YAML + README + configs/seatsfu.yaml); --redis needs --secret and
// --node-addr. Without --redis: no Store, no Node, rooms in memory.
//
// Room life (signal/cluster.go). Opening a room is Node.Host: ErrHeld →
// room_not_found "the room is hosted on another node" (the relay below
// normally reaches the host first); ErrUnavailable → `overloaded` "cluster
// state store unavailable, try again". A Host that finds a saved state
// (host died, or handed over) restores it (RestoreRoom) for any member
// that asks, not only the owner. After every seat operation
// (sfu.RoomConfig.Commit, and before the answer in signal's session.do and
// room.join): Durable → EncodeState → Stage under the room's lock, no I/O;
// a saver goroutine per hosted room Flushes the newest staged state, and
// every frame queued to a session meanwhile carries the version staged
// when it was queued, which the session's writer waits for
// (signal/cluster_save.go). So the answer and the notifications still
// follow their state into Redis, the room's lock holds no round trip, a
// burst of operations costs one write, and none waits while Store.Up is
// false (the tick writes it when Redis returns). Webhooks wait the same
// way (webhook.Dispatcher.HoldUntil: each event holds for the version
// staged when it was emitted; a new room's room.started for its first
// state). A room whose seat controller ended is staged as its saver's
// last version: the saver does Hosted.End off the room's lock (retried
// each tick while Redis is down), after any write in flight, and
// room.ended waits for it; Flush after End is ErrFenced (and Redis's fence
// refuses it too), so an ended room is never written back. Config.Lost and
// Server.Shutdown abandon the room here (sfu.Room.Abandon; sockets closed
// 1001, no room.ended); Shutdown then Drains, so SIGTERM hands rooms over.
// Takeover (Config.Adopt) and a client's join share one mutex, so a room
// is never opened twice on a node.
//
// Signalling relay (signal/links.go, relay.go, linkhost.go): one
// internal/nodelink link per pair of nodes, served on --node-addr
// (/v1/node-link) and dialled through a Pool; a listener accepts only a
// valid link token (MintLinkToken) from a node the registry lists. The
// edge verifies the client's token, finds the host (Node.Route), and
// carries the client's socket as one session over the link: open {token},
// numbered msg frames both ways (nodelink.Stream), close {code, reason}.
// The host serves the session through an in-memory WebSocket to its own
// /v1/rtc with the token and an X-Seatsfu-Relayed header (a host never
// relays a relayed socket: no loops), so a relayed socket gets every rule
// of a direct one. The relay is decided again at each room.join of a
// socket served locally that speaks for nobody (signal/handover.go): if
// another node hosts the room by then, the socket and its join go there. A dropped link is resumed: the edge dials again and
// sends resume {last received}; the host, which kept the session (and the
// member) for --link-resume, answers resumed and both re-send what the
// other missed. Not resumed in time → the client's socket closes 1001 and
// it reconnects. A failed link dial → Forget the route, serve locally
// (room_not_found during a takeover, retried by clients). Settings
// --link-queue, --link-buffer, --link-resume; metrics cluster_links,
// cluster_link_frames_total{direction}, cluster_link_drops_total,
// cluster_link_resumes_total{outcome}, cluster_relayed_sockets. NOT
// BUILT: a room's notifications crossing the link once and fanned out at
// the edge (each relayed session still gets its own copy, on the one
// link). With --node-tls-* the links are mutual TLS (nodelink.TLS) on
// top of the link token.
//
// Server API (signal/api_remote.go): /v1/api on any node; a call for a
// room another node hosts is an api frame to the host, run there by the
// single-node code, so answers and errors are the same; a list merges
// every live node's page.
//
// Media (signal/cascade.go). Publishers reach the host through the relay
// (rtc.publish's SDP answer is the host's), as chosen below. Viewers:
// the relay intercepts a relayed socket's rtc.subscribe (and its subscribe
// candidates) and serves it from the node's cascade of the room: the edge
// opens the host's /v1/cascade (signal/cascade_host.go, a token for
// "node.<id>" it mints with the secret; it is no member: not in member
// lists, counts, room.memberJoined or webhooks), subscribes once with
// maxSeats audio+video pairs, and opens a
// mirror room "cascade:<room>" whose seat k is held by a synthetic
// publisher that publishes into this node's own SFU over a loopback
// PeerConnection, fed with what the host sends on slot k. sfu serves local
// viewers from it unchanged (NACK cache, keyframe cache, PLI coalescing);
// a PLI on a loopback track becomes a PLI for the host's slot. A socket
// that sent rtc.publish subscribes at the host (the mirror could not leave
// out a publisher's own seat). The cascade closes with its last viewer
// (no idle delay yet). relay_packets_total{direction="in"} counts packets
// received from hosts, {direction="out"} those handed to the mirror — not,
// as planned below, the host's sends to cascades. Costs of the loopback:
// each cascaded packet is handled three times on the edge (receive, send,
// receive) and each cascade holds maxSeats+1 PeerConnections; a
// source-level hook in sfu would remove both. Per seat the edge asks the
// host (rtc.setQuality) for the best quality any local viewer wants
// (signal/cascade_quality.go), so remote viewers count in the publisher's
// rtc.publisherLayers; the edge takes that one layer and its local viewers
// share it (it does not yet fold in what each local viewer's bandwidth can
// take). seatsfu_cascades{role} counts cascades served (host) and held
// (edge).
//
// Clients (signal/client/failover.go): client.Connect(FailoverConfig{URLs,
// Token, Create, Grace, OnConnect}) joins through the first node that
// lets it and, on a lost connection, tries the next ones in rounds with
// backoff until the grace ends; room_not_found and overloaded are retried,
// banned / token_invalid / permission_denied / room_full are final.
// GET /v1/nodes lists live nodes' public URLs; client.ListNodes reads it
// and FailoverConfig.Refresh re-reads it before each round of reconnects.
// WHIP/WHEP offers on a node that does not host the room get 307 to the
// host's public URL (relay.go). /sdk/seatsfu.js fails over the same way
// (its nodes / listNodes options). seatbench cascade measures the host's
// CPU as remote audiences grow (bench/README.md). NOT BUILT: the cascade's
// handling of a host death beyond "viewers reconnect".
//
// The Go SDK's end-to-end suite runs against three nodes with each client
// on a random one: SEATSFU_E2E_NODES=3 go test ./signal/client/ -run
// 'Test[A-Z]'. All pass but one, by design (signal/client/
// cluster_env_test.go says why): SIGTERM hands rooms over instead of
// ending them. Co-hosting crosses nodes (below).
//
// Tests: signal/cluster_test.go (answer after saved state, hand-over with
// seats/locks/bans/resume, Redis down and back, relay), signal/
// cluster_media_test.go (publish and view across nodes, one subscription
// for two remote viewers, media with Redis down, kick gating at the edge),
// signal/client/failover_test.go, cmd/seatsfu/cluster_process_test.go
// (two real processes, SIGKILL, hosted again in ~3.0 s).
//
// # Co-hosting across nodes (signal/cohost_cluster.go, cohost_mirror.go)
//
// Chosen: one controller per relation with the other room attached to it
// over the node link (steps 1, 2, 3 and 5 of the plan this section held),
// not the simpler co-location (hand the accepting room over to the
// requester's node on cohost.accept). Why: a hand-over closes every socket
// of the moved room with 1001 (§12, "A node stops"), so each of its
// members — viewers included — reconnects at the moment the show begins,
// and an SDK client that does not fail over (client.Dial) loses the room;
// and the moved room's publishers re-publish, a visible freeze for its
// audience. Attaching costs no client anything.
//
//  1. Owner. The desk of the node hosting the room whose owner asks first
//     runs the relation on its cohost.Controller. Before it touches a room
//     another node hosts (cohost.request's target) it attaches it there:
//     that node records the room as homed at the asker and refuses
//     (cohost_busy) when its own controller, or a third node's, already
//     knows the room. Attaching is a round trip made before the desk's
//     lock, never under it (two desks calling each other would wait on
//     each other).
//  2. Calls and shares. Every co-host method of a homed room's owner is
//     forwarded to the owner desk (an "op", carried as a server API call
//     "cohost" on the link) and run there; the answer brings the room's
//     share of the outcome (new view, notifications, whether its media
//     changed), applied in §10's order: media, snapshot, answer,
//     notifications. Every other share goes as a "push", in order, from
//     one sender goroutine per desk (bounded queue). A homed room's end is
//     reported to the owner ("ended"). When the controller forgets a
//     remote room it detaches it (numbered, so a late detach never undoes
//     a newer attach); a forwarded call to a desk that let the room go is
//     answered "detached" and run on the room's own node.
//  3. Media. A room's co-host slots on a node that does not host the
//     other room are fed from this node's cascade of it (its mirror's seat
//     0, the same one subscription the node's viewers share), set up off
//     the lock and pointed once ready. A cascade also takes its room's
//     co-host slots from the host and feeds them into one-owner mirrors
//     that its mirror's co-host slots point at, once: the host re-points,
//     the edge never learns the connection, and every viewer on every
//     node gets the co-host slots.
//  4. Takeover (signal/cohost_takeover.go). The relation is not in
//     seat.State (the blob's format is unchanged): the owner desk holds it.
//     Each desk asks the registry every Tick. When the node of a remote
//     room leaves, the owner desk waits up to 5 s (§12's takeover bound)
//     for the room to be hosted again and attaches it at its new node (or
//     takes it as its own when it took the room), with the room's whole
//     share: view, media, and cohost.changed / battle.started /
//     cohost.requestReceived for members who rejoined there. Not hosted
//     again in time, or refused there: the room ends for the controller
//     (room_ended, connection_ended). The owner desk's own node leaving
//     ends the relation on the other rooms' nodes (their requests
//     cancelled room_ended, battle ended connection_ended, cohost.changed
//     []): the controller's state is in no store. Keeping that too would
//     need the controller's relations in Redis and an adopting desk.
//  5. Scores. AddBattleScore on a node that does not run the battle asks
//     the other live nodes in turn ("score") until one does: battle ids
//     name no node and a cluster has few nodes.
//
// Limits, honestly: a forwarded call that times out (JoinTimeout) after
// the owner desk ran it is answered overloaded on the caller's node while
// it took effect; a link broken between two live nodes loses pushes
// (logged) until the next call; a room decided on its own node cannot be
// asked from another node's at the same time (cohost_busy, not queued).
// Tests: signal/cohost_cluster_test.go (across nodes with remote viewers,
// battle scored through a third node, leave and end from either side, a
// stopped node's room followed; §10's order and one answer per call on the
// forwarded side; a stopped deciding node), cmd/seatsfu/
// cohost_process_test.go (SIGKILL of either node: followed in ~3.5 s,
// ended in ~3 s), and the SDK's TestCohostAndBattleSDK with
// SEATSFU_E2E_NODES=3.
//
// # The original plan (kept for what is not built)
//
// Wiring (cmd/seatsfu). --redis URL and --node-addr HOST:PORT (§12), plus
// settings for Tick, LeaseTTL, NodeTTL and OpTimeout (flag + env + YAML +
// README + configs/seatsfu.yaml). With
// no --redis nothing changes: no Store, no Node, rooms in memory. A node
// also needs a public URL for clients (--public-url; HTTPAddr in NodeInfo).
// Metrics to register: NewMetrics(reg); relay_packets_total{direction}
// belongs to the media cascade below.
//
// Room life on the hosting node. Opening a room is Node.Host: ErrHeld
// names the node that hosts it (relay there, below); ErrUnavailable (Redis
// down) refuses a new room with `overloaded` and the message "cluster
// state store unavailable, try again" — the contract's reason for "try
// again later or elsewhere"; no new reason is needed. After every
// operation: under the room's lock seat's Durable (its cost follows seats,
// requests and bans, not the audience), EncodeState, Stage (an unchanged
// blob is no write, so audience joins cost nothing); after the lock,
// Flush; only then send the answer and the notifications. That ordering is what
// makes "no request is answered twice" hold across a takeover: an answer
// a client saw is in Redis. With Redis down Flush fails, the change stays
// staged and the answer goes out anyway (the room keeps running; nobody
// can take it over while Redis is down for everyone). Room end:
// Hosted.End. Config.Lost: close the room's local sessions without
// room.ended (their clients reconnect and reach the new host).
//
// Takeover (Config.Adopt). RestoreRoom(saved, seat.Config{Grace,
// MaxMembers, Clock}) → open the sfu room around it. Every member that was
// connected starts its grace at the takeover and publishing is cleared
// (publishers re-publish, §12); members resume as their clients come back
// (TestRoomSurvivesItsNode).
// Pending requests are kept with their deadlines, so none ends with
// room_ended. Metadata and the co-host link (§10, §11) join seat.State
// when those issues land; the blob's format number leaves room for them.
//
// Signalling relay: one link per pair of nodes. Node A dials B's
// --node-addr once (WebSocket, coder/websocket) and keeps it; the upgrade
// carries a link token (MintLinkToken: HS256 with the shared secret, aud
// "seatsfu-node", sub the dialling node, to the dialled one, one minute;
// neither it nor a client token passes for the other) and B accepts only
// a sub that is a live node in the registry. With --node-tls-* the link
// is mutual TLS with the cluster's CA as well (nodelink.TLS). Frames are JSON: {s: session id, t: open |
// rpc | reply | note | close, p: the JSON-RPC message}. The client's node
// (the edge) keeps the client's WebSocket and checks its token locally
// (same secret); for a room hosted elsewhere (Node.Route; Node.Forget on
// a failed send or a "not hosted here" reply) it opens
// a relayed session on the host with the verified identity and forwards
// every request; the host runs the seat controller exactly as for a local
// session and sends replies and notifications back tagged with the session
// id. A notification for everyone in a room crosses each link once, with
// the room id, and the edge fans it out to its local sessions: the
// signalling twin of the media cascade. Each link has a bounded send queue;
// a link that cannot keep up is closed and its sessions are resumed on the
// next dial (the edge re-sends room.join for each as a resume), exactly as
// when the host dies and another node takes the room over: clients on
// live nodes see only the seat.changed of the takeover.
//
// Publishers' media goes to the hosting node directly. rtc.publish (and
// WHIP) from an edge node is relayed like any request, so the SDP answer —
// and its ICE candidates — comes from the hosting node, and the
// publisher's PeerConnection terminates there; WHIP on another node
// proxies the offer/answer (or answers 307 to the host's public URL).
// Why not forward RTP from the edge: publishers are at most maxSeats per
// room, never the scaling problem; a forwarding hop adds latency for the
// streams everyone watches; and gating stays at the source — a kick on
// the host stops the guest's media before any other node sees a packet,
// so "no packet after kick + one RTT" holds on every node without a
// second gate. Why not move the room to the owner's node: a room would
// migrate (takeover machinery) whenever the owner reconnects elsewhere.
// Cost, accepted: a publisher's connection dies with its host node and it
// re-publishes (§12 already says so).
//
// Media cascade: a node is a viewer of another node. The first local viewer
// of a remote room makes the node open one cascade subscription to the
// host over the node link: a Pion PeerConnection negotiated like a
// viewer's (maxSeats audio+video pairs, one SSRC per slot, continuous
// across seat changes). Locally the node opens a mirror room whose slot
// sources are the cascade's incoming tracks: to sfu they are up-tracks
// like a publisher's, so its own NACK cache, keyframe cache, PLI
// coalescing (≤ 1 upstream per slot per 500 ms) and writers serve local
// viewers unchanged. The mirror does not gate: the host already forwards
// only what may be forwarded. Seat state for the mirror comes with the
// relayed notifications. The cascade closes a while (a setting) after the
// last local viewer leaves, so viewer churn does not churn subscriptions.
// relay_packets_total{direction="in"} counts cascade packets received,
// {direction="out"} packets the host sent to cascades. Why a
// PeerConnection and not RTP over the node link: SRTP, NACK and
// congestion control come for free, UDP keeps head-of-line blocking off
// the media path, and the host treats a node like any viewer (one per
// node, whatever its viewer count: the host's CPU stays flat as remote
// viewers grow, which seatbench cascade must show).
//
// Clients of a dead node. A node's clients lose their WebSocket; the Go
// SDK and /sdk/seatsfu.js reconnect with the same token to the next node
// of their list (the app's list, refreshed from GET /v1/nodes, which lists
// live nodes' public URLs from the registry), backing off, and resume
// within the reconnect grace: any node accepts them and relays to the
// room's host.
//
// Redis down. Running rooms forward media and answer requests (staged
// states flush when Redis returns); relayed signalling keeps working over
// existing links and warm routes; new rooms and rooms whose host is not
// cached are refused (`overloaded`); takeovers wait for Redis. When Redis
// returns (even empty), the Node re-registers, renews or re-takes its
// leases with their fences and rewrites its rooms' states on its own.
// Production Redis should persist (appendonly yes, appendfsync everysec):
// a Redis that loses its data also loses the fence counters, and a node
// cut off before the loss could then take a room back with an old fence.
package cluster
