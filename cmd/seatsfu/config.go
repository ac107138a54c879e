package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/seatsfu/seatsfu/seat"
	"github.com/seatsfu/seatsfu/seat/cohost"
	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal/webhook"
)

// Config is everything `seatsfu serve` can be told (PROTOCOL.md §1). Each key
// comes from a flag, an env var or the YAML file given with --config, in
// that order of precedence, else from Defaults. The YAML keys are the flag
// names, so one name means one setting everywhere.
type Config struct {
	HTTP           string        `yaml:"http"`
	RTCUDPPort     int           `yaml:"rtc-udp-port"`
	RTCTCPPort     *int          `yaml:"rtc-tcp-port"` // nil: the UDP port's number (TCPPort)
	TURNPort       int           `yaml:"turn-port"`
	TURNMaxAllocs  int           `yaml:"turn-max-allocations"`
	RTCIPs         []string      `yaml:"rtc-ip"`
	RTCListenIP    string        `yaml:"rtc-listen-ip"`
	Secret         string        `yaml:"secret"`
	ReconnectGrace time.Duration `yaml:"reconnect-grace"`
	MaxSeats       int           `yaml:"max-seats"`
	MaxCohosts     int           `yaml:"max-cohosts"`
	VideoCodec     string        `yaml:"video-codec"`
	LogLevel       string        `yaml:"log-level"`

	// Limits are the caps and deadlines of limits.go, same keys rules.
	Limits `yaml:",inline"`
	// Overload are the media caps of overload.go, same keys rules.
	Overload `yaml:",inline"`
	// Adapt are bandwidth adaptation's probing and estimator (adapt.go).
	Adapt `yaml:",inline"`
	// Cluster is cluster.go's: Redis, node address and timings.
	Cluster ClusterSettings `yaml:",inline"`
	// v2 §11: webhook receivers and each one's queue (webhooks.go).
	WebhookURLs  []string `yaml:"webhook-url"`
	WebhookQueue int      `yaml:"webhook-queue"`
	// EgressDirect: the SFU's own SRTP and sendmmsg for viewers on host
	// UDP (egress.go).
	EgressDirect bool `yaml:"egress-direct"`
	// ViewerTransport: auto, own or pion; DemuxQueue the own transport's
	// queue to Pion (viewertransport.go).
	ViewerTransport string `yaml:"viewer-transport"`
	DemuxQueue      int    `yaml:"demux-queue"`
	// TCPUnsent and TCPWriteTimeout bound a viewer's ICE-TCP socket
	// (viewertransport.go).
	TCPUnsent       int           `yaml:"tcp-unsent"`
	TCPWriteTimeout time.Duration `yaml:"tcp-write-timeout"`
}

// Defaults is the configuration of a bare `seatsfu` (PROTOCOL.md §1).
func Defaults() Config {
	return Config{
		HTTP:            ":7880",
		RTCUDPPort:      7881,
		RTCIPs:          nil, // auto-detect
		RTCListenIP:     "",  // every interface
		Secret:          "",  // none: dev mode
		ReconnectGrace:  15 * time.Second,
		MaxSeats:        10,
		MaxCohosts:      4,
		VideoCodec:      "vp8",
		LogLevel:        "info",
		TURNMaxAllocs:   8,
		Limits:          defaultLimits(),
		Overload:        defaultOverload(),
		Adapt:           defaultAdapt(),
		Cluster:         defaultCluster(),
		WebhookURLs:     nil, // no webhooks
		WebhookQueue:    webhook.DefaultQueueSize,
		EgressDirect:    true,
		ViewerTransport: "auto",
		DemuxQueue:      defaultDemuxQueue,
		TCPUnsent:       sfu.DefaultTCPUnsent,
		TCPWriteTimeout: sfu.DefaultTCPWriteTimeout,
	}
}

// TCPPort is the ICE-TCP port: rtc-tcp-port if set, else the UDP port's
// number (PROTOCOL.md §9); 0 means off.
func (c Config) TCPPort() int {
	if c.RTCTCPPort != nil {
		return *c.RTCTCPPort
	}
	return c.RTCUDPPort
}

// DevMode reports whether no secret was configured: the server then makes
// up a secret and serves demo tokens.
func (c Config) DevMode() bool { return c.Secret == "" }

// Limits of the settings.
const (
	maxReconnectGrace = 24 * time.Hour
	envPrefix         = "SEATSFU_"
	envConfig         = "SEATSFU_CONFIG"
)

// setting is one key: its flag name (also its YAML key), its env var, and
// how to apply a textual value from a flag or env var.
type setting struct {
	name  string
	usage string
	set   func(c *Config, v string) error
}

func (s setting) env() string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(s.name, "-", "_"))
}

var settings = []setting{
	{"http", "HTTP listen `address` (WebSocket, WHIP/WHEP, metrics, demo)", func(c *Config, v string) error {
		c.HTTP = v
		return nil
	}},
	{"rtc-udp-port", "the one UDP `port` all ICE traffic shares (0 picks a free one)", func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a port number", v)
		}
		c.RTCUDPPort = n
		return nil
	}},
	{"rtc-tcp-port", "the ICE-TCP `port`; 0 turns ICE-TCP off (default: the rtc-udp-port number)", func(c *Config, v string) error {
		if strings.TrimSpace(v) == "" { // YAML's null, as the sample file writes the default
			c.RTCTCPPort = nil
			return nil
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a port number", v)
		}
		c.RTCTCPPort = &n
		return nil
	}},
	{"turn-max-allocations", "relay allocations one user may hold at once on the embedded TURN server (`n` ≥ 1)", func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
		c.TURNMaxAllocs = n
		return nil
	}},
	{"turn-port", "the embedded TURN server's `port`, UDP and TCP; 0 turns TURN off", func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a port number", v)
		}
		c.TURNPort = n
		return nil
	}},
	{"rtc-ip", "comma-separated `IPs` advertised as host candidates (default auto-detect)", func(c *Config, v string) error {
		c.RTCIPs = splitList(v)
		return nil
	}},
	{"rtc-listen-ip", "`IP` the UDP port binds to (default every interface)", func(c *Config, v string) error {
		c.RTCListenIP = strings.TrimSpace(v)
		return nil
	}},
	{"secret", "HMAC `key` that signs tokens; none means dev mode", func(c *Config, v string) error {
		c.Secret = v
		return nil
	}},
	{"reconnect-grace", "how long a dropped participant keeps its seat and requests (`duration`)", func(c *Config, v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a duration like 15s", v)
		}
		c.ReconnectGrace = d
		return nil
	}},
	{"max-seats", "default seats per room, owner's included (`n` in 2..16)", func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
		c.MaxSeats = n
		return nil
	}},
	{"max-cohosts", "rooms per co-host connection (`n` in 2..9)", func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
		c.MaxCohosts = n
		return nil
	}},
	{"video-codec", "the one video `codec` rooms use: vp8, vp9 or h264", func(c *Config, v string) error {
		c.VideoCodec = v
		return nil
	}},
	{"log-level", "log `level`: debug, info, warn or error", func(c *Config, v string) error {
		c.LogLevel = v
		return nil
	}},
	webhookURLSetting, webhookQueueSetting, // webhooks.go
}

// splitList reads a comma list, dropping blanks, so "a, b," is [a b].
func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ReadFile reads the --config file; os.ReadFile in production, a map in
// tests.
type ReadFile func(name string) ([]byte, error)

// Load builds the serve configuration from args (flags after the
// subcommand), env and the YAML file named by --config or SEATSFU_CONFIG.
// Precedence is flag > env > file > default, per key. The result is
// validated; every error names the source and key at fault. flag.ErrHelp is
// returned as is when -h was asked for (usage already written to usage).
func Load(args []string, env map[string]string, readFile ReadFile, usage io.Writer) (Config, error) {
	fs := flag.NewFlagSet("seatsfu serve", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.Usage = func() { printServeUsage(fs.Output()) } // help.go
	flagged := map[string]string{}
	for _, s := range settings {
		fs.Func(s.name, s.usage+" [$"+s.env()+"]", func(v string) error {
			flagged[s.name] = v
			return nil
		})
	}
	configPath := fs.String("config", "", "YAML configuration `file` [$"+envConfig+"]")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	c := Defaults()
	path := *configPath
	if path == "" {
		path = env[envConfig]
	}
	if path != "" {
		if readFile == nil {
			return Config{}, fmt.Errorf("config file %s: no way to read files", path)
		}
		data, err := readFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config file: %w", err)
		}
		if err := decodeYAML(data, &c); err != nil {
			return Config{}, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	for _, s := range settings {
		// An empty env var counts as unset: `docker run -e SEATSFU_SECRET=`
		// must not silently override a file's secret with dev mode.
		if v := env[s.env()]; v != "" {
			if err := s.set(&c, v); err != nil {
				return Config{}, fmt.Errorf("$%s: %w", s.env(), err)
			}
		}
	}
	for _, s := range settings {
		if v, ok := flagged[s.name]; ok {
			if err := s.set(&c, v); err != nil {
				return Config{}, fmt.Errorf("--%s: %w", s.name, err)
			}
		}
	}
	if len(c.RTCIPs) == 0 {
		c.RTCIPs = nil // "rtc-ip: []" and no key at all both mean auto-detect
	}
	if len(c.WebhookURLs) == 0 {
		c.WebhookURLs = nil
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks every key; the error names the key (its flag name).
func (c Config) Validate() error {
	if _, port, err := net.SplitHostPort(c.HTTP); err != nil {
		return fmt.Errorf("http: %q is not a listen address like :7880: %v", c.HTTP, err)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("http: port %q is not 0..65535", port)
	}
	if c.RTCUDPPort < 0 || c.RTCUDPPort > 65535 {
		return fmt.Errorf("rtc-udp-port: %d is not 0..65535", c.RTCUDPPort)
	}
	if p := c.TCPPort(); p < 0 || p > 65535 {
		return fmt.Errorf("rtc-tcp-port: %d is not 0..65535", p)
	}
	if c.TURNMaxAllocs < 1 || c.TURNMaxAllocs > 1000 {
		return fmt.Errorf("turn-max-allocations: %d is not 1..1000", c.TURNMaxAllocs)
	}
	if c.TURNPort < 0 || c.TURNPort > 65535 {
		return fmt.Errorf("turn-port: %d is not 0..65535", c.TURNPort)
	}
	if c.TURNPort != 0 && c.TURNPort == c.RTCUDPPort {
		return fmt.Errorf("turn-port: %d is the rtc-udp-port too", c.TURNPort)
	}
	if c.TURNPort != 0 && c.TURNPort == c.TCPPort() {
		return fmt.Errorf("turn-port: %d is the rtc-tcp-port too", c.TURNPort)
	}
	for _, ip := range c.RTCIPs {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("rtc-ip: %q is not an IP address", ip)
		}
	}
	if c.RTCListenIP != "" && net.ParseIP(c.RTCListenIP) == nil {
		return fmt.Errorf("rtc-listen-ip: %q is not an IP address", c.RTCListenIP)
	}
	if c.ReconnectGrace < 0 || c.ReconnectGrace > maxReconnectGrace {
		return fmt.Errorf("reconnect-grace: %v is not between 0s and %v", c.ReconnectGrace, maxReconnectGrace)
	}
	if c.MaxSeats < seat.MinSeats || c.MaxSeats > seat.MaxSeatsLimit {
		return fmt.Errorf("max-seats: %d is not %d..%d", c.MaxSeats, seat.MinSeats, seat.MaxSeatsLimit)
	}
	if c.MaxCohosts < cohost.MinRooms || c.MaxCohosts > cohost.MaxRoomsLimit {
		return fmt.Errorf("max-cohosts: %d is not %d..%d", c.MaxCohosts, cohost.MinRooms, cohost.MaxRoomsLimit)
	}
	switch c.VideoCodec {
	case "vp8", "vp9", "h264":
	default:
		return fmt.Errorf("video-codec: %q is not vp8, vp9 or h264", c.VideoCodec)
	}
	if _, err := c.Level(); err != nil {
		return err
	}
	if err := c.validateCluster(); err != nil { // cluster.go
		return err
	}
	if err := c.validateWebhooks(); err != nil {
		return err
	}
	if err := c.Adapt.validate(); err != nil {
		return err
	}
	if err := c.Overload.validate(); err != nil {
		return err
	}
	if err := c.validateViewerTransport(); err != nil {
		return err
	}
	return c.Limits.validate()
}

// Level is the slog level of LogLevel.
func (c Config) Level() (slog.Level, error) {
	switch c.LogLevel {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log-level: %q is not debug, info, warn or error", c.LogLevel)
}
