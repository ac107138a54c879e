package main

import (
	"fmt"
	"strings"

	"github.com/seatsfu/seatsfu/sfu"
)

func init() { settings = append(settings, viewerTransportSetting) }

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
