package main

import (
	"fmt"
	"strconv"
	"strings"
)

func init() { settings = append(settings, egressDirectSetting) }

// egressDirectSetting turns the direct egress path (sfu/egress.go) on or
// off. Off, every viewer's media goes through Pion's stack as it did
// before issue 16: the way back if a platform's sendmmsg or a Pion upgrade
// misbehaves.
var egressDirectSetting = setting{"egress-direct",
	"send viewers' media with the SFU's own SRTP and sendmmsg when their ICE pair is host UDP (`true` or false); false sends everything through Pion",
	func(c *Config, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		c.EgressDirect = b
		return nil
	}}
