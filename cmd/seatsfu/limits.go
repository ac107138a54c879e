package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/seatsfu/seatsfu/signal"
)

// Limits are the settings that hold the node under hostile load (the v2
// caps of PROTOCOL.md §1, and the deadlines of PROTOCOL.md §3.4). They live inline in
// Config: the YAML keys are the flag names like every other setting.
type Limits struct {
	MaxMembers         int           `yaml:"max-members"`
	MaxPendingRequests int           `yaml:"max-pending-requests"`
	MaxRooms           int           `yaml:"max-rooms"`
	MaxSubscribers     int           `yaml:"max-subscribers"`
	MaxConns           int           `yaml:"max-conns"`
	MaxConnsPerIP      int           `yaml:"max-conns-per-ip"`
	MaxWHEPPerUser     int           `yaml:"max-whep-per-user"`
	MaxRateBudgets     int           `yaml:"max-rate-budgets"`
	JoinTimeout        time.Duration `yaml:"join-timeout"`
	TokenExpiryGrace   time.Duration `yaml:"token-expiry-grace"`
	HTTPReadTimeout    time.Duration `yaml:"http-read-timeout"`
	HTTPIdleTimeout    time.Duration `yaml:"http-idle-timeout"`
}

// defaultLimits are PROTOCOL.md §1's defaults, and ours where it names none.
func defaultLimits() Limits {
	return Limits{
		MaxMembers:         10_000,
		MaxPendingRequests: 100,
		MaxRooms:           10_000,
		MaxSubscribers:     0, // no cap
		MaxConns:           20_000,
		MaxConnsPerIP:      500,
		MaxWHEPPerUser:     4,
		MaxRateBudgets:     100_000,
		JoinTimeout:        10 * time.Second,
		TokenExpiryGrace:   60 * time.Second,
		HTTPReadTimeout:    10 * time.Second,
		HTTPIdleTimeout:    60 * time.Second,
	}
}

// maxLimitDuration bounds the duration settings.
const maxLimitDuration = 24 * time.Hour

func init() { settings = append(settings, limitSettings...) }

var limitSettings = []setting{
	count("max-members", "members per room, owner included; 0 = no cap", func(c *Config) *int { return &c.Limits.MaxMembers }),
	count("max-pending-requests", "pending seat requests per room; 0 = no cap", func(c *Config) *int { return &c.Limits.MaxPendingRequests }),
	count("max-rooms", "open rooms on this node; 0 = no cap", func(c *Config) *int { return &c.Limits.MaxRooms }),
	count("max-subscribers", "subscriptions (rtc.subscribe + WHEP) on this node; 0 = no cap", func(c *Config) *int { return &c.Limits.MaxSubscribers }),
	count("max-conns", "open HTTP/WebSocket connections on this node; 0 = no cap", func(c *Config) *int { return &c.Limits.MaxConns }),
	count("max-conns-per-ip", "open HTTP/WebSocket connections per client IP; 0 = no cap", func(c *Config) *int { return &c.Limits.MaxConnsPerIP }),
	count("max-whep-per-user", "live WHEP sessions per user and room; 0 = no cap", func(c *Config) *int { return &c.Limits.MaxWHEPPerUser }),
	count("max-rate-budgets", "per-user rate budgets remembered across reconnects (at least 1)", func(c *Config) *int { return &c.Limits.MaxRateBudgets }),
	span("join-timeout", "how long a socket may stay without room.join", func(c *Config) *time.Duration { return &c.Limits.JoinTimeout }),
	span("token-expiry-grace", "how long a session whose token expired may stay without session.refresh", func(c *Config) *time.Duration { return &c.Limits.TokenExpiryGrace }),
	span("http-read-timeout", "longest time to read one HTTP request, body included", func(c *Config) *time.Duration { return &c.Limits.HTTPReadTimeout }),
	span("http-idle-timeout", "how long an idle keep-alive HTTP connection stays open", func(c *Config) *time.Duration { return &c.Limits.HTTPIdleTimeout }),
}

func count(name, usage string, field func(*Config) *int) setting {
	return setting{name, usage + " (`n`)", func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
		*field(c) = n
		return nil
	}}
}

func span(name, usage string, field func(*Config) *time.Duration) setting {
	return setting{name, usage + " (`duration`)", func(c *Config, v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a duration like 10s", v)
		}
		*field(c) = d
		return nil
	}}
}

// validate checks every limit; the error names the key.
func (l Limits) validate() error {
	for name, n := range map[string]int{
		"max-members": l.MaxMembers, "max-pending-requests": l.MaxPendingRequests, "max-rooms": l.MaxRooms,
		"max-subscribers": l.MaxSubscribers, "max-conns": l.MaxConns, "max-conns-per-ip": l.MaxConnsPerIP,
		"max-whep-per-user": l.MaxWHEPPerUser,
	} {
		if n < 0 {
			return fmt.Errorf("%s: %d is negative (0 means no cap)", name, n)
		}
	}
	if l.MaxRateBudgets < 1 {
		return fmt.Errorf("max-rate-budgets: %d is not at least 1", l.MaxRateBudgets)
	}
	for name, d := range map[string]time.Duration{
		"join-timeout": l.JoinTimeout, "token-expiry-grace": l.TokenExpiryGrace,
		"http-read-timeout": l.HTTPReadTimeout, "http-idle-timeout": l.HTTPIdleTimeout,
	} {
		if d <= 0 || d > maxLimitDuration {
			return fmt.Errorf("%s: %v is not above 0s and at most %v", name, d, maxLimitDuration)
		}
	}
	return nil
}

// signal is the edge's view of the limits (members are set apart, as
// signal.Config has always had them).
func (l Limits) signal() signal.Limits {
	return signal.Limits{
		MaxPendingRequests: l.MaxPendingRequests,
		MaxRooms:           l.MaxRooms,
		MaxSubscribers:     l.MaxSubscribers,
		MaxWHEPPerUser:     l.MaxWHEPPerUser,
		MaxBudgets:         l.MaxRateBudgets,
		MaxConns:           l.MaxConns,
		MaxConnsPerIP:      l.MaxConnsPerIP,
		JoinTimeout:        l.JoinTimeout,
		ExpiryGrace:        l.TokenExpiryGrace,
		HTTPReadTimeout:    l.HTTPReadTimeout,
		HTTPIdleTimeout:    l.HTTPIdleTimeout,
	}
}
