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
// 'Test[A-Z]'. All pass but three (signal/client/cluster_env_test.go says
// which and why): SIGTERM hands rooms over instead of ending them; a socket
// that connected while nobody hosted its room is not relayed once the room
// opens elsewhere (the relay is decided at the upgrade); co-hosting (§10)
// links rooms of one node only (and a cascade's mirror has no co-host
// slots, so a remote viewer's rtc.quality lists none).
//
// Tests: signal/cluster_test.go (answer after saved state, hand-over with
// seats/locks/bans/resume, Redis down and back, relay), signal/
// cluster_media_test.go (publish and view across nodes, one subscription
// for two remote viewers, media with Redis down, kick gating at the edge),
// signal/client/failover_test.go, cmd/seatsfu/cluster_process_test.go
// (two real processes, SIGKILL, hosted again in ~3.0 s).
//
// # Co-hosting across nodes: NOT BUILT, what it needs
//
// Today cohost.request for a room another node hosts is refused
// room_not_found ("room … is not live"): signal's cohostDesk resolves both
// rooms among its own hubs, one cohost.Controller per node holds the
// requests, connections and battles, and sfu.Room.SetCohosts feeds a
// room's co-host slots from the other room's publishers in the same SFU.
// Across nodes it needs, in this order:
//
//  1. One owner per co-host relation: the host of the requesting room
//     keeps the Controller entry; cohost.request/accept/reject/cancel,
//     cohost.leave and battle.* from the other room's owner are forwarded
//     to it over the link (an "api"-like frame carrying the caller's room,
//     user and request, answered with the controller's result/error), so
//     one controller decides and the ordering rules of §10 (media, then
//     snapshots, then the answer, then notifications) hold on that node.
//  2. The remote room's side of each Delivery (cohost.requestReceived,
//     cohost.changed, battle.*): sent over the link to its host, which
//     notifies its members and refreshes its hub's cohostView, and which
//     reports its room's end to the owner node (RoomEnded).
//  3. Media: each room's co-host slots fed from the other room's
//     publishers on another node — a cascade subscription of the other
//     room (cascade.go's mirror, joined through linkClient) registered as
//     the source of sfu's co-host slots instead of a local room.
//  4. Durability: the co-host link joins seat.State (the blob's format
//     number allows it), so a takeover keeps the connection; a node that
//     takes over a room re-registers its relation with the owner node.
//  5. Scores: AddBattleScore on any node forwarded to the battle's owner
//     node (battle ids carry the node's prefix already: route by it).
//
// A simpler alternative, at the cost of one reconnect for the other
// room's clients: co-locate — on cohost.accept, hand the accepting room
// over (Hosted lease released, as SIGTERM does for all rooms) to the
// requesting room's node, which takes it at once; everything then runs on
// one node as today.
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
