// Package media is the SFU's RTP-level machinery, free of any notion of rooms
// or seats: codec identification and keyframe detection, per-slot
// sequence/timestamp rewriting, the packet caches that answer NACKs and start
// new viewers on a keyframe, keyframe request throttling, viewers' RTCP
// feedback parsing, and the RFC 3550 arithmetic of sender reports (their
// translation onto a slot's clock, NTP time, round-trip time).
//
// Hot-path types (Rewriter, Cache, GOPCache, IsKeyframe) allocate nothing per
// packet; every buffer is bounded when it is built.
package media
