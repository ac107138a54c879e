package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/seatsfu/seatsfu/media"
	"github.com/seatsfu/seatsfu/sfu"
)

// Adapt are the settings of per-viewer bandwidth adaptation (PROTOCOL.md
// §9): the padding budgets of probing (sfu/probe.go) and the downlink
// estimator's thresholds, which depend on the viewers' networks
// (media/bwe.go says why its other constants are not settings). Inline in
// Config.
type Adapt struct {
	ProbeViewerRate int           `yaml:"probe-viewer-rate"`
	ProbeNodeRate   int           `yaml:"probe-node-rate"`
	BWELossHigh     float64       `yaml:"bwe-loss-high"`
	BWELossLow      float64       `yaml:"bwe-loss-low"`
	BWEDelayHigh    time.Duration `yaml:"bwe-delay-high"`
	BWEDelayLow     time.Duration `yaml:"bwe-delay-low"`
}

// defaultAdapt: a viewer may get 500 kbit/s of padding on average (one
// probe of a 4 Mbit/s downlink every second or so), the node 50 Mbit/s;
// the thresholds are media.DefaultBWEConfig's.
func defaultAdapt() Adapt {
	b := media.DefaultBWEConfig()
	return Adapt{ProbeViewerRate: 500_000, ProbeNodeRate: 50_000_000,
		BWELossHigh: b.LossHigh, BWELossLow: b.LossLow, BWEDelayHigh: b.DelayHigh, BWEDelayLow: b.DelayLow}
}

func init() { settings = append(settings, adaptSettings...) }

var adaptSettings = []setting{
	count("probe-viewer-rate", "bit/s of probe padding a viewer may get on average; 0 = no probing",
		func(c *Config) *int { return &c.Adapt.ProbeViewerRate }),
	count("probe-node-rate", "bit/s of probe padding this node may send, all viewers together; 0 = no probing",
		func(c *Config) *int { return &c.Adapt.ProbeNodeRate }),
	ratio("bwe-loss-high", "a viewer's downlink loss ratio over which it is congested",
		func(c *Config) *float64 { return &c.Adapt.BWELossHigh }),
	ratio("bwe-loss-low", "a viewer's downlink loss ratio under which its estimate may grow",
		func(c *Config) *float64 { return &c.Adapt.BWELossLow }),
	span("bwe-delay-high", "a viewer's downlink queuing delay over which it is congested",
		func(c *Config) *time.Duration { return &c.Adapt.BWEDelayHigh }),
	span("bwe-delay-low", "a viewer's downlink queuing delay under which its estimate may grow",
		func(c *Config) *time.Duration { return &c.Adapt.BWEDelayLow }),
}

func ratio(name, usage string, field func(*Config) *float64) setting {
	return setting{name, usage + " (`ratio`)", func(c *Config, v string) error {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number like 0.1", v)
		}
		*field(c) = f
		return nil
	}}
}

func (a Adapt) validate() error {
	if a.ProbeViewerRate < 0 || a.ProbeNodeRate < 0 {
		return fmt.Errorf("probe-viewer-rate, probe-node-rate: %d, %d: negative (0 means no probing)", a.ProbeViewerRate, a.ProbeNodeRate)
	}
	if err := a.bwe().Validate(); err != nil || a.BWELossHigh <= 0 || a.BWELossLow <= 0 || a.BWEDelayHigh <= 0 || a.BWEDelayLow <= 0 {
		return fmt.Errorf("bwe-loss-low < bwe-loss-high < 1 and 0 < bwe-delay-low < bwe-delay-high are needed: %+v", a)
	}
	return nil
}

func (a Adapt) bwe() media.BWEConfig {
	return media.BWEConfig{LossHigh: a.BWELossHigh, LossLow: a.BWELossLow, DelayHigh: a.BWEDelayHigh, DelayLow: a.BWEDelayLow}
}

func (a Adapt) sfu() sfu.Adapt {
	return sfu.Adapt{BWE: a.bwe(), NoProbing: a.ProbeViewerRate == 0 || a.ProbeNodeRate == 0,
		ProbeViewerRate: int64(a.ProbeViewerRate), ProbeNodeRate: int64(a.ProbeNodeRate)}
}
