// Package whip serves seatsfu's HTTP media doors (PROTOCOL.md §6): WHIP
// (RFC 9725), POST /whip/{room}, for encoders such as OBS that publish a
// seated user's media, and WHEP (draft-ietf-wish-whep), POST /whep/{room},
// for players that watch a room — and the session resources behind their
// Location (DELETE ends, PATCH trickles).
//
// It knows rooms only through the sfu and the small Edge interface the
// signalling edge (package signal) implements: opening the token's room,
// and the room's Presence, which the edge owns — an owner's WHIP session
// counts as the owner being there, exactly like a signalling socket.
//
// Every request runs its checks cheapest first — CORS, the per-IP POST
// budget (429), the token (401), content type and size (415/413), the SDP's
// shape (400/422) — and a refusal changes nothing. Each session has one
// watcher goroutine that ends with its peer connection or at Wait.
package whip
