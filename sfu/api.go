// Package sfu holds rooms and their media: peer connections, seat-gated
// publishing, seat-slot forwarding and routing. A Room owns the room's seat
// controller behind one mutex: every seat decision is taken, its media effect
// applied and its notifications handed to the edge, in that order, under that
// mutex.
//
// SKELETON: the signatures below are the agreed API between sfu and signal.
package sfu

import (
	"log/slog"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatsfu/seatsfu/seat"
)

// Config configures the media server shared by all rooms.
type Config struct {
	// UDPPort is the one UDP port all ICE traffic shares; 0 picks a free port
	// (tests).
	UDPPort int
	// IPs are the addresses advertised as host candidates. Empty means
	// auto-detect.
	IPs []string
	// VideoCodec is the room codec: "vp8" (default), "vp9" or "h264".
	VideoCodec string
	Logger     *slog.Logger
	// Registerer receives the media metrics; nil means none are registered.
	Registerer prometheus.Registerer
}

// The media errors of CONTRACT §3, in the contract's error shape.
var (
	ErrPublishForbidden = &seat.Error{Code: 100400, Reason: "publish_forbidden", Message: "only seated users may publish"}
	ErrBadSDP           = &seat.Error{Code: 100401, Reason: "bad_sdp", Message: "the offer cannot be used"}
	ErrUnsupportedCodec = &seat.Error{Code: 100402, Reason: "unsupported_codec", Message: "no codec in common with the room"}
)

// Notifier routes a decision's deliveries to the room's members. It is called
// with the room's lock held, in decision order, after the media effects were
// applied; it must not block (enqueue and return).
type Notifier interface {
	Notify(r *Room, ds []seat.Delivery)
}

// RoomConfig opens a room.
type RoomConfig struct {
	Seat     seat.Config
	Notifier Notifier
}

// Slot is one negotiated seat slot of a subscriber (rtc.subscribe's slots).
type Slot struct {
	Mid       string `json:"mid"`
	Kind      string `json:"kind"`
	SeatIndex int    `json:"seatIndex"`
}

// SFU is the media server: one ICE UDP mux, one webrtc API, many rooms.
type SFU struct{}

// New starts the media server (binds the UDP port).
func New(cfg Config) (*SFU, error) { panic("sfu: not implemented yet") }

// Close ends every room's media and releases the UDP port.
func (s *SFU) Close() error { panic("unimplemented") }

// OpenRoom creates a room; an error if the id is taken or the seat config is
// invalid.
func (s *SFU) OpenRoom(cfg RoomConfig) (*Room, error) { panic("unimplemented") }

// Room returns an open room, or nil.
func (s *SFU) Room(id string) *Room { panic("unimplemented") }

// Rooms returns the open rooms (for shutdown and metrics).
func (s *SFU) Rooms() []*Room { panic("unimplemented") }

// Room is one live stream: its seat controller and its media.
type Room struct{}

func (r *Room) ID() string { panic("unimplemented") }

// Do runs one seat operation under the room's lock. When op succeeds, the
// deliveries' media effects are applied (publishers of users who lost their
// seat closed, slots re-pointed, kinds gated), then the notifier gets them;
// all before Do returns. When op fails nothing changes and its error is
// returned. Once the room has ended (RoomEnded was delivered) the room closes
// its media, leaves the SFU's registry and Done is closed.
func (r *Room) Do(op func(*seat.Room) ([]seat.Delivery, error)) error { panic("unimplemented") }

// Done is closed when the room has ended.
func (r *Room) Done() <-chan struct{} { panic("unimplemented") }

// Publish answers a publish offer from userID (rtc.publish, WHIP). The user
// must hold a seat (ErrPublishForbidden). A user has at most one publisher:
// a new one replaces the old. The publisher is closed by the server when the
// user loses the seat. ErrBadSDP / ErrUnsupportedCodec for bad offers.
func (r *Room) Publish(userID, offer string) (*Peer, string, error) { panic("unimplemented") }

// Subscribe answers a subscribe offer (rtc.subscribe, WHEP). The k-th audio
// and k-th video m-lines carry seat firstSeat+k; the rest are inactive.
// userID's own media is never sent back to it.
func (r *Room) Subscribe(userID, offer string, firstSeat int) (*Peer, string, []Slot, error) {
	panic("unimplemented")
}

// Peer is one server-side peer connection (a publisher or a subscriber).
type Peer struct{}

// AddCandidate adds a remote ICE candidate trickled by the client.
func (p *Peer) AddCandidate(c webrtc.ICECandidateInit) error { panic("unimplemented") }

// Close tears the peer connection down; safe to call more than once.
func (p *Peer) Close() error { panic("unimplemented") }

// Done is closed once the peer connection is closed (by either side).
func (p *Peer) Done() <-chan struct{} { panic("unimplemented") }
