package main

import (
	"fmt"
	"strings"

	"github.com/seatsfu/seatsfu/sfu"
)

func init() { settings = append(settings, viewerTransportSetting, demuxQueueSetting) }

// demuxQueueSetting bounds what waits between the own transport's demux
// and Pion's UDP mux (the publishers' packets): past it they are dropped
// and counted (seatsfu_viewer_transport_pion_queue_drops_total).
var demuxQueueSetting = count("demux-queue",
	"datagrams for publishers that may wait between the viewer transport's demux and Pion (16..1048576); more are dropped",
	func(c *Config) *int { return &c.DemuxQueue })

// validateViewerTransport checks demux-queue's range.
func (c Config) validateViewerTransport() error {
	if c.DemuxQueue < 16 || c.DemuxQueue > 1<<20 {
		return fmt.Errorf("demux-queue: %d is not between 16 and 1048576", c.DemuxQueue)
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
