package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/seatsfu/seatsfu/sfu"
)

func init() {
	settings = append(settings, viewerTransportSetting, demuxQueueSetting, tcpUnsentSetting, tcpWriteTimeoutSetting)
}

// tcpUnsentSetting and tcpWriteTimeoutSetting bound a viewer's ICE-TCP
// socket (sfu/rtcconn/tcp.go): what it may hold that the viewer's window
// has not let out, and how long a write waits before its packet is
// dropped (seatsfu_viewer_transport_tcp_dropped_packets_total).
var (
	tcpUnsentSetting = count("tcp-unsent",
		"bytes a viewer's ICE-TCP socket may hold that its window has not let out (TCP_NOTSENT_LOWAT): a stalled link banks no more stale media than this (16384..16777216)",
		func(c *Config) *int { return &c.TCPUnsent })
	tcpWriteTimeoutSetting = span("tcp-write-timeout",
		"how long a write to a viewer's ICE-TCP socket waits for room before its packet is dropped (50ms..10s)",
		func(c *Config) *time.Duration { return &c.TCPWriteTimeout })
)

// demuxQueueSetting bounds what waits between the own transport's demux
// and Pion's UDP mux (the publishers' packets): past it they are dropped
// and counted (seatsfu_viewer_transport_pion_queue_drops_total).
var demuxQueueSetting = count("demux-queue",
	"datagrams for publishers that may wait between the viewer transport's demux and Pion (16..1048576); more are dropped",
	func(c *Config) *int { return &c.DemuxQueue })

// validateViewerTransport checks the ranges of demux-queue and the
// ICE-TCP bounds.
func (c Config) validateViewerTransport() error {
	if c.DemuxQueue < 16 || c.DemuxQueue > 1<<20 {
		return fmt.Errorf("demux-queue: %d is not between 16 and 1048576", c.DemuxQueue)
	}
	if c.TCPUnsent < 16<<10 || c.TCPUnsent > 16<<20 {
		return fmt.Errorf("tcp-unsent: %d is not between 16384 and 16777216", c.TCPUnsent)
	}
	// Not under 50 ms: a write that waits over 20 ms is how the SFU tells
	// a viewer's stalled link from its own overload (sfu/egress.go).
	if c.TCPWriteTimeout < 50*time.Millisecond || c.TCPWriteTimeout > 10*time.Second {
		return fmt.Errorf("tcp-write-timeout: %v is not between 50ms and 10s", c.TCPWriteTimeout)
	}
	return nil
}

// viewerTransportSetting picks who carries viewers below ICE
// (sfu/viewerconn.go): the SFU's own transport, which costs no goroutine
// per viewer, or a Pion PeerConnection each. auto takes the own transport
// unless the node runs TURN, whose relay candidates it cannot carry.
var viewerTransportSetting = setting{"viewer-transport",
	"who carries viewers below ICE: `auto` (own unless TURN is on), own (UDP and ICE-TCP, no TURN relay for viewers) or pion",
	func(c *Config, v string) error {
		switch v = strings.TrimSpace(v); v {
		case sfu.ViewerTransportAuto, sfu.ViewerTransportOwn, sfu.ViewerTransportPion:
			c.ViewerTransport = v
			return nil
		}
		return fmt.Errorf("%q is not auto, own or pion", v)
	}}

const defaultDemuxQueue = sfu.DefaultDemuxQueue
