package sfu

import (
	"errors"
	"log/slog"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatsfu/seatsfu/seat"
)

// Config configures the media server shared by all rooms.
type Config struct {
	// UDPPort is the one UDP port all ICE traffic shares; 0 picks a free port
	// (tests).
	UDPPort int
	// ListenIP is the address the UDP port binds to; empty means every
	// interface (0.0.0.0). Tests bind 127.0.0.1.
	ListenIP string
	// IPs are the addresses advertised as host candidates. Empty means
	// auto-detect (every interface address).
	IPs []string
	// IncludeLoopback advertises a loopback candidate too (dev mode, tests).
	IncludeLoopback bool
	// ICETCP adds ICE-TCP passive candidates on one TCP port, TCPPort (0
	// picks a free one), for networks that block UDP (PROTOCOL.md §9).
	ICETCP  bool
	TCPPort int
	// TURN runs the embedded TURN server on TURNPort, UDP and TCP (0 picks
	// a free port number); TURNSecret keys its credentials (turn.go).
	TURN       bool
	TURNPort   int
	TURNSecret []byte
	// TURNMaxAllocations caps one user's simultaneous relay allocations;
	// zero means 8.
	TURNMaxAllocations int
	// VideoCodec is the room codec: "vp8" (default), "vp9" or "h264".
	VideoCodec string
	Logger     *slog.Logger
	// Registerer receives the media metrics; nil means none are registered.
	Registerer prometheus.Registerer

	// ICE timers; zero means the defaults (5 s disconnected, 10 s failed,
	// 2 s keepalive). Tests shorten them.
	ICEDisconnectedTimeout time.Duration
	ICEFailedTimeout       time.Duration
	ICEKeepaliveInterval   time.Duration
	// GatherTimeout bounds how long an answer waits for ICE gathering;
	// zero means 5 s.
	GatherTimeout time.Duration
	// ViewerQueue is each viewer's queue length in packets; zero means 256.
	// A full queue drops (video: until the next keyframe), never blocks.
	ViewerQueue int
	// PionEgress sends every viewer's media through Pion's stack: the
	// direct egress path (egress.go) off (--egress-direct=false).
	PionEgress bool
	// ViewerTransport is who carries viewers below ICE: "auto" (empty),
	// "own" or "pion" (viewerconn.go). DemuxQueue bounds the own
	// transport's queue of publishers' datagrams to Pion; zero means
	// DefaultDemuxQueue.
	ViewerTransport string
	DemuxQueue      int
	// TCPUnsent bounds the bytes a viewer's ICE-TCP socket on the own
	// transport holds unsent, TCPWriteTimeout how long one write to it
	// waits before its packet is dropped; zero means the defaults
	// (rtcconn.DefaultTCPUnsent, rtcconn.DefaultTCPWriteTimeout).
	TCPUnsent       int
	TCPWriteTimeout time.Duration
	// NoGSO keeps the direct path from merging datagrams with UDP GSO
	// (egress_gso.go): for measuring what GSO adds.
	NoGSO bool
	// Overload caps the node's media when it is past what it can send
	// (overload.go).
	Overload Overload
	// Adapt tunes per-viewer bandwidth estimation and probing (probe.go).
	Adapt Adapt
	// MaxCohosts is the most rooms of a co-host connection (2..9; zero
	// means 4): a subscription carries up to MaxCohosts-1 co-host slots.
	MaxCohosts int
}

// The media errors of PROTOCOL.md §3: a reason and a message, like the
// seat rules' refusals; the edge gives each its code.
var (
	ErrPublishForbidden = &seat.Error{Reason: "publish_forbidden", Message: "only seated users may publish"}
	ErrBadSDP           = &seat.Error{Reason: "bad_sdp", Message: "the offer cannot be used"}
	ErrUnsupportedCodec = &seat.Error{Reason: "unsupported_codec", Message: "no codec in common with the room"}
)

// ErrTooManyMLines is joined to ErrBadSDP when a publish offer has more
// m-lines than one audio and one video, so WHIP can answer 422 where other
// bad offers get 400. errors.Is matches both.
var ErrTooManyMLines = errors.New("sfu: more than one audio and one video m-line")

// ErrRoomEnded is returned by a Room's methods once the room has ended.
var ErrRoomEnded = &seat.Error{Reason: seat.ErrRoomNotFound.Reason, Message: "the room has ended"}

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
	// Restored, when set, is the room's seat controller rebuilt from saved
	// state (a cluster takeover, PROTOCOL.md §12); of Seat only Clock is
	// then used, and it must be the one Restored runs on.
	Restored *seat.Room
	// Commit, when set, runs under the room's lock after every successful
	// seat operation, before its deliveries: the cluster persists the
	// room's durable state there (PROTOCOL.md §12).
	Commit func(*seat.Room)
}

// Slot is one negotiated slot of a subscriber (rtc.subscribe's slots): a
// seat slot (CohostIndex 0) or co-host slot CohostIndex (SeatIndex -1).
type Slot struct {
	Mid         string `json:"mid"`
	Kind        string `json:"kind"`
	SeatIndex   int    `json:"seatIndex"`
	CohostIndex int    `json:"cohostIndex"`
}

var _ webrtc.TrackLocal = (*slotTrack)(nil)
