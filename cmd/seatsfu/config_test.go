package main

import (
	"errors"
	"flag"
	"io"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"
)

// files is an in-memory ReadFile.
func files(m map[string]string) ReadFile {
	return func(name string) ([]byte, error) {
		s, ok := m[name]
		if !ok {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		return []byte(s), nil
	}
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(nil, nil, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Defaults()) {
		t.Fatalf("got %+v, want %+v", c, Defaults())
	}
	if !c.DevMode() {
		t.Fatal("no secret must mean dev mode")
	}
	want := Config{HTTP: ":7880", RTCUDPPort: 7881, TURNMaxAllocs: 8, ReconnectGrace: 15 * time.Second, MaxSeats: 10, MaxCohosts: 4, VideoCodec: "vp8", LogLevel: "info"}
	want.Limits = Limits{MaxMembers: 10000, MaxPendingRequests: 100, MaxRooms: 10000, MaxConns: 20000, MaxConnsPerIP: 500,
		MaxWHEPPerUser: 4, MaxRateBudgets: 100000, JoinTimeout: 10 * time.Second, TokenExpiryGrace: time.Minute,
		HTTPReadTimeout: 10 * time.Second, HTTPIdleTimeout: time.Minute}
	want.Cluster = ClusterSettings{ClusterTick: 500 * time.Millisecond, LeaseTTL: 3 * time.Second, NodeTTL: 3 * time.Second,
		RedisTimeout: time.Second, LinkQueue: 4096, LinkBuffer: 1024, LinkResume: 10 * time.Second} // §12: no Redis, one node
	want.WebhookQueue = 10000
	want.Overload = Overload{EgressFloor: 10000, EgressCPU: 90, ViewerRetransmits: 300, NodeRetransmits: 20000, NodeKeyframeRequests: 100, HandshakeQueue: 4096}
	want.EgressDirect = true // the direct egress path on
	want.ViewerTransport, want.DemuxQueue = "auto", 1024
	want.TCPUnsent, want.TCPWriteTimeout = 128<<10, 200*time.Millisecond
	want.Adapt = Adapt{ProbeViewerRate: 500_000, ProbeNodeRate: 50_000_000, BWELossHigh: 0.1, BWELossLow: 0.02,
		BWEDelayHigh: 80 * time.Millisecond, BWEDelayLow: 15 * time.Millisecond}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("defaults %+v differ from PROTOCOL.md §1 %+v", c, want)
	}
}

// TestPrecedence sets every key in file, env and flag in turn and checks
// the highest source wins, key by key.
func TestPrecedence(t *testing.T) {
	type vals struct{ file, env, flag string }
	keys := map[string]struct {
		v   vals
		get func(Config) any
		// the parsed forms of v.file, v.env and v.flag
		want [3]any
	}{
		"http":                 {vals{"'127.0.0.1:1'", "127.0.0.1:2", "127.0.0.1:3"}, func(c Config) any { return c.HTTP }, [3]any{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}},
		"rtc-udp-port":         {vals{"1001", "1002", "1003"}, func(c Config) any { return c.RTCUDPPort }, [3]any{1001, 1002, 1003}},
		"rtc-tcp-port":         {vals{"2001", "0", "2003"}, func(c Config) any { return c.TCPPort() }, [3]any{2001, 0, 2003}},
		"turn-port":            {vals{"3001", "3002", "3003"}, func(c Config) any { return c.TURNPort }, [3]any{3001, 3002, 3003}},
		"turn-max-allocations": {vals{"1", "20", "1000"}, func(c Config) any { return c.TURNMaxAllocs }, [3]any{1, 20, 1000}},
		"rtc-ip":               {vals{"[10.0.0.1]", "10.0.0.2, 10.0.0.3", "10.0.0.4,::1"}, func(c Config) any { return c.RTCIPs }, [3]any{[]string{"10.0.0.1"}, []string{"10.0.0.2", "10.0.0.3"}, []string{"10.0.0.4", "::1"}}},
		"rtc-listen-ip":        {vals{"127.0.0.1", "127.0.0.2", "127.0.0.3"}, func(c Config) any { return c.RTCListenIP }, [3]any{"127.0.0.1", "127.0.0.2", "127.0.0.3"}},
		"secret":               {vals{"file-secret", "env-secret", "flag-secret"}, func(c Config) any { return c.Secret }, [3]any{"file-secret", "env-secret", "flag-secret"}},
		"reconnect-grace":      {vals{"1s", "2m", "3h"}, func(c Config) any { return c.ReconnectGrace }, [3]any{time.Second, 2 * time.Minute, 3 * time.Hour}},
		"max-seats":            {vals{"2", "9", "16"}, func(c Config) any { return c.MaxSeats }, [3]any{2, 9, 16}},
		"max-cohosts":          {vals{"2", "5", "9"}, func(c Config) any { return c.MaxCohosts }, [3]any{2, 5, 9}},
		"video-codec":          {vals{"vp9", "h264", "vp8"}, func(c Config) any { return c.VideoCodec }, [3]any{"vp9", "h264", "vp8"}},
		"log-level":            {vals{"debug", "warn", "error"}, func(c Config) any { return c.LogLevel }, [3]any{"debug", "warn", "error"}},
		// limits.go
		"max-members":          {vals{"1", "2", "3"}, func(c Config) any { return c.MaxMembers }, [3]any{1, 2, 3}},
		"max-pending-requests": {vals{"1", "2", "3"}, func(c Config) any { return c.MaxPendingRequests }, [3]any{1, 2, 3}},
		"max-rooms":            {vals{"1", "2", "3"}, func(c Config) any { return c.MaxRooms }, [3]any{1, 2, 3}},
		"max-subscribers":      {vals{"1", "2", "3"}, func(c Config) any { return c.MaxSubscribers }, [3]any{1, 2, 3}},
		"max-conns":            {vals{"1", "2", "3"}, func(c Config) any { return c.MaxConns }, [3]any{1, 2, 3}},
		"max-conns-per-ip":     {vals{"1", "2", "3"}, func(c Config) any { return c.MaxConnsPerIP }, [3]any{1, 2, 3}},
		"max-rate-budgets":     {vals{"1", "2", "3"}, func(c Config) any { return c.MaxRateBudgets }, [3]any{1, 2, 3}},
		"max-whep-per-user":    {vals{"1", "2", "3"}, func(c Config) any { return c.MaxWHEPPerUser }, [3]any{1, 2, 3}},
		"join-timeout":         {vals{"1s", "2m", "3h"}, func(c Config) any { return c.JoinTimeout }, [3]any{time.Second, 2 * time.Minute, 3 * time.Hour}},
		"token-expiry-grace":   {vals{"1s", "2m", "3h"}, func(c Config) any { return c.TokenExpiryGrace }, [3]any{time.Second, 2 * time.Minute, 3 * time.Hour}},
		"http-read-timeout":    {vals{"1s", "2m", "3h"}, func(c Config) any { return c.HTTPReadTimeout }, [3]any{time.Second, 2 * time.Minute, 3 * time.Hour}},
		"http-idle-timeout":    {vals{"1s", "2m", "3h"}, func(c Config) any { return c.HTTPIdleTimeout }, [3]any{time.Second, 2 * time.Minute, 3 * time.Hour}},
		// cluster.go
		"redis":         {vals{"redis://127.0.0.1:1/0", "redis://127.0.0.1:2/0", "redis://127.0.0.1:3/1"}, func(c Config) any { return c.Cluster.Redis }, [3]any{"redis://127.0.0.1:1/0", "redis://127.0.0.1:2/0", "redis://127.0.0.1:3/1"}},
		"node-addr":     {vals{"10.0.0.1:1", "10.0.0.2:2", "node3:3"}, func(c Config) any { return c.Cluster.NodeAddr }, [3]any{"10.0.0.1:1", "10.0.0.2:2", "node3:3"}},
		"public-url":    {vals{"https://a.example", "https://b.example", "http://c.example:8"}, func(c Config) any { return c.Cluster.PublicURL }, [3]any{"https://a.example", "https://b.example", "http://c.example:8"}},
		"cluster-tick":  {vals{"100ms", "200ms", "1s"}, func(c Config) any { return c.Cluster.ClusterTick }, [3]any{100 * time.Millisecond, 200 * time.Millisecond, time.Second}},
		"lease-ttl":     {vals{"4s", "5s", "6s"}, func(c Config) any { return c.Cluster.LeaseTTL }, [3]any{4 * time.Second, 5 * time.Second, 6 * time.Second}},
		"node-ttl":      {vals{"4s", "5s", "6s"}, func(c Config) any { return c.Cluster.NodeTTL }, [3]any{4 * time.Second, 5 * time.Second, 6 * time.Second}},
		"redis-timeout": {vals{"1s", "2s", "3s"}, func(c Config) any { return c.Cluster.RedisTimeout }, [3]any{time.Second, 2 * time.Second, 3 * time.Second}},
		"link-queue":    {vals{"16", "32", "64"}, func(c Config) any { return c.Cluster.LinkQueue }, [3]any{16, 32, 64}},
		"link-buffer":   {vals{"16", "32", "64"}, func(c Config) any { return c.Cluster.LinkBuffer }, [3]any{16, 32, 64}},
		"link-resume":   {vals{"1s", "2s", "3s"}, func(c Config) any { return c.Cluster.LinkResume }, [3]any{time.Second, 2 * time.Second, 3 * time.Second}},
		"node-tls-cert": {vals{"a.pem", "b.pem", "c.pem"}, func(c Config) any { return c.Cluster.NodeTLSCert }, [3]any{"a.pem", "b.pem", "c.pem"}},
		"node-tls-key":  {vals{"a.key", "b.key", "c.key"}, func(c Config) any { return c.Cluster.NodeTLSKey }, [3]any{"a.key", "b.key", "c.key"}},
		"node-tls-ca":   {vals{"a.ca", "b.ca", "c.ca"}, func(c Config) any { return c.Cluster.NodeTLSCA }, [3]any{"a.ca", "b.ca", "c.ca"}},
		"webhook-url": {vals{"[http://a.example/h]", "http://b.example/h, https://c.example/h", "https://d.example/h"},
			func(c Config) any { return c.WebhookURLs },
			[3]any{[]string{"http://a.example/h"}, []string{"http://b.example/h", "https://c.example/h"}, []string{"https://d.example/h"}}},
		"webhook-queue": {vals{"1", "2", "3"}, func(c Config) any { return c.WebhookQueue }, [3]any{1, 2, 3}},
		// overload.go
		"egress-budget":          {vals{"1", "2", "3"}, func(c Config) any { return c.EgressBudget }, [3]any{1, 2, 3}},
		"egress-floor":           {vals{"1", "2", "3"}, func(c Config) any { return c.EgressFloor }, [3]any{1, 2, 3}},
		"egress-cpu":             {vals{"1", "2", "3"}, func(c Config) any { return c.EgressCPU }, [3]any{1, 2, 3}},
		"viewer-retransmits":     {vals{"1", "2", "3"}, func(c Config) any { return c.ViewerRetransmits }, [3]any{1, 2, 3}},
		"node-retransmits":       {vals{"1", "2", "3"}, func(c Config) any { return c.NodeRetransmits }, [3]any{1, 2, 3}},
		"node-keyframe-requests": {vals{"1", "2", "3"}, func(c Config) any { return c.NodeKeyframeRequests }, [3]any{1, 2, 3}},
		"replay-budget":          {vals{"1", "2", "3"}, func(c Config) any { return c.ReplayBudget }, [3]any{1, 2, 3}},
		"handshakes":             {vals{"1", "2", "3"}, func(c Config) any { return c.Handshakes }, [3]any{1, 2, 3}},
		"handshake-queue":        {vals{"1", "2", "3"}, func(c Config) any { return c.HandshakeQueue }, [3]any{1, 2, 3}},
		// egress.go
		"egress-direct": {vals{"false", "true", "false"}, func(c Config) any { return c.EgressDirect }, [3]any{false, true, false}},
		// viewertransport.go
		"viewer-transport": {vals{"own", "pion", "auto"}, func(c Config) any { return c.ViewerTransport }, [3]any{"own", "pion", "auto"}},
		"demux-queue":      {vals{"16", "2048", "4096"}, func(c Config) any { return c.DemuxQueue }, [3]any{16, 2048, 4096}},
		"tcp-unsent":       {vals{"16384", "65536", "1048576"}, func(c Config) any { return c.TCPUnsent }, [3]any{16384, 65536, 1048576}},
		"tcp-write-timeout": {vals{"50ms", "1s", "10s"}, func(c Config) any { return c.TCPWriteTimeout },
			[3]any{50 * time.Millisecond, time.Second, 10 * time.Second}},
		// adapt.go
		"probe-viewer-rate": {vals{"1", "2", "3"}, func(c Config) any { return c.ProbeViewerRate }, [3]any{1, 2, 3}},
		"probe-node-rate":   {vals{"1", "2", "3"}, func(c Config) any { return c.ProbeNodeRate }, [3]any{1, 2, 3}},
		"bwe-loss-high":     {vals{"0.2", "0.3", "0.4"}, func(c Config) any { return c.BWELossHigh }, [3]any{0.2, 0.3, 0.4}},
		"bwe-loss-low":      {vals{"0.01", "0.03", "0.05"}, func(c Config) any { return c.BWELossLow }, [3]any{0.01, 0.03, 0.05}},
		"bwe-delay-high":    {vals{"100ms", "200ms", "300ms"}, func(c Config) any { return c.BWEDelayHigh }, [3]any{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}},
		"bwe-delay-low":     {vals{"1ms", "2ms", "3ms"}, func(c Config) any { return c.BWEDelayLow }, [3]any{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond}},
	}
	// Keys that are only valid with others: set those by flag in every case.
	needs := map[string][]string{"redis": {"--secret=s", "--node-addr=10.0.0.9:9"}}
	if len(keys) != len(settings) {
		t.Fatalf("test covers %d keys, config has %d", len(keys), len(settings))
	}
	for _, s := range settings {
		k, ok := keys[s.name]
		if !ok {
			t.Fatalf("no precedence case for %q", s.name)
		}
		t.Run(s.name, func(t *testing.T) {
			rf := files(map[string]string{"c.yaml": s.name + ": " + k.v.file + "\n"})
			env := map[string]string{s.env(): k.v.env}
			flagArg := "--" + s.name + "=" + k.v.flag
			def := k.get(Defaults())
			for _, tc := range []struct {
				name string
				args []string
				env  map[string]string
				want any
			}{
				{"default", nil, nil, def},
				{"file over default", []string{"--config", "c.yaml"}, nil, k.want[0]},
				{"env over file", []string{"--config", "c.yaml"}, env, k.want[1]},
				{"flag over env", []string{"--config", "c.yaml", flagArg}, env, k.want[2]},
				{"flag over file", []string{"--config", "c.yaml", flagArg}, nil, k.want[2]},
				{"flag alone", []string{flagArg}, nil, k.want[2]},
				{"env alone", nil, env, k.want[1]},
			} {
				c, err := Load(append(append([]string(nil), needs[s.name]...), tc.args...), tc.env, rf, io.Discard)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if got := k.get(c); !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("%s: got %#v, want %#v", tc.name, got, tc.want)
				}
			}
		})
	}
}

// TestTCPPortFollowsUDPPort: unset, the ICE-TCP port is the UDP port's
// number (PROTOCOL.md §9), wherever the UDP port came from; 0 turns it off.
func TestTCPPortFollowsUDPPort(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, 7881},
		{[]string{"--rtc-udp-port", "9000"}, 9000},
		{[]string{"--rtc-udp-port", "9000", "--rtc-tcp-port", "443"}, 443},
		{[]string{"--rtc-tcp-port", "0"}, 0},
	} {
		c, err := Load(tc.args, nil, nil, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if c.TCPPort() != tc.want {
			t.Errorf("%v: TCP port %d, want %d", tc.args, c.TCPPort(), tc.want)
		}
	}
}

func TestConfigFromEnvVar(t *testing.T) {
	rf := files(map[string]string{"/etc/seatsfu.yaml": "max-seats: 4\n", "other.yaml": "max-seats: 5\n"})
	c, err := Load(nil, map[string]string{"SEATSFU_CONFIG": "/etc/seatsfu.yaml"}, rf, io.Discard)
	if err != nil || c.MaxSeats != 4 {
		t.Fatalf("SEATSFU_CONFIG: %+v %v", c, err)
	}
	c, err = Load([]string{"--config", "other.yaml"}, map[string]string{"SEATSFU_CONFIG": "/etc/seatsfu.yaml"}, rf, io.Discard)
	if err != nil || c.MaxSeats != 5 {
		t.Fatalf("--config over SEATSFU_CONFIG: %+v %v", c, err)
	}
}

func TestEmptyEnvIsUnset(t *testing.T) {
	rf := files(map[string]string{"c.yaml": "secret: from-file\n"})
	c, err := Load([]string{"--config", "c.yaml"}, map[string]string{"SEATSFU_SECRET": ""}, rf, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Secret != "from-file" || c.DevMode() {
		t.Fatalf("an empty env var overrode the file: %+v", c)
	}
}

func TestLoadErrors(t *testing.T) {
	rf := files(map[string]string{
		"unknown.yaml":  "http: ':1'\nmax_seats: 4\n",
		"typo.yaml":     "secert: x\n",
		"singular.yaml": "max_seat: 4\n",
		"faroff.yaml":   "rooms: 4\n",
		"mapval.yaml":   "http: {a: 1}\n",
		"badip.yaml":    "rtc-ip: [10.0.0.1, nope]\n",
		"badtype.yaml":  "max-seats: many\n",
		"intgrace.yaml": "reconnect-grace: 15\n",
		"badgrace.yaml": "reconnect-grace: soon\n",
		"twodocs.yaml":  "max-seats: 4\n---\nmax-seats: 5\n",
		"notmap.yaml":   "- a\n- b\n",
		"seats.yaml":    "max-seats: 17\n",
		"broken.yaml":   "http: [\n",
	})
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown yaml key", []string{"--config", "unknown.yaml"}, nil, `config file unknown.yaml: unknown setting "max_seats" (line 2) (did you mean max-seats?)`},
		{"misspelt yaml key", []string{"--config", "typo.yaml"}, nil, `unknown setting "secert" (line 1) (did you mean secret?)`},
		{"singular yaml key", []string{"--config", "singular.yaml"}, nil, `unknown setting "max_seat" (line 1) (did you mean max-seats?)`},
		{"far-off yaml key", []string{"--config", "faroff.yaml"}, nil, `unknown setting "rooms" (line 1)`},
		{"yaml wrong type", []string{"--config", "badtype.yaml"}, nil, `max-seats (line 1): "many" is not a number`},
		{"yaml bare int duration", []string{"--config", "intgrace.yaml"}, nil, `reconnect-grace (line 1): "15" is not a duration like 15s`},
		{"yaml bad duration", []string{"--config", "badgrace.yaml"}, nil, `reconnect-grace (line 1): "soon"`},
		{"yaml mapping value", []string{"--config", "mapval.yaml"}, nil, `http (line 1): want a value, not a mapping`},
		{"yaml bad list item", []string{"--config", "badip.yaml"}, nil, `rtc-ip: "nope"`},
		{"yaml two documents", []string{"--config", "twodocs.yaml"}, nil, "more than one"},
		{"yaml not a mapping", []string{"--config", "notmap.yaml"}, nil, "notmap.yaml"},
		{"yaml syntax", []string{"--config", "broken.yaml"}, nil, "broken.yaml"},
		{"yaml invalid value", []string{"--config", "seats.yaml"}, nil, "max-seats: 17 is not 2..16"},
		{"missing config file", []string{"--config", "nope.yaml"}, nil, "nope.yaml"},
		{"unknown flag", []string{"--max-sets", "4"}, nil, "max-sets"},
		{"stray argument", []string{"extra"}, nil, `unexpected argument "extra"`},
		{"http not an address", []string{"--http", "7880"}, nil, "http:"},
		{"http port range", []string{"--http", ":70000"}, nil, "http: port"},
		{"udp port not a number", []string{"--rtc-udp-port", "x"}, nil, "--rtc-udp-port"},
		{"udp port range", []string{"--rtc-udp-port", "65536"}, nil, "rtc-udp-port: 65536"},
		{"udp port negative", nil, map[string]string{"SEATSFU_RTC_UDP_PORT": "-1"}, "rtc-udp-port: -1"},
		{"udp port env not a number", nil, map[string]string{"SEATSFU_RTC_UDP_PORT": "abc"}, "$SEATSFU_RTC_UDP_PORT"},
		{"tcp port range", []string{"--rtc-tcp-port", "65536"}, nil, "rtc-tcp-port: 65536"},
		{"tcp port not a number", nil, map[string]string{"SEATSFU_RTC_TCP_PORT": "tcp"}, "$SEATSFU_RTC_TCP_PORT"},
		{"turn port range", []string{"--turn-port", "-1"}, nil, "turn-port: -1"},
		{"turn allocations 0", []string{"--turn-max-allocations", "0"}, nil, "turn-max-allocations: 0 is not 1..1000"},
		{"turn allocations not a number", nil, map[string]string{"SEATSFU_TURN_MAX_ALLOCATIONS": "many"}, "$SEATSFU_TURN_MAX_ALLOCATIONS"},
		{"turn port is the udp port", []string{"--turn-port", "7881", "--rtc-tcp-port", "0"}, nil, "turn-port: 7881 is the rtc-udp-port"},
		{"turn port is the tcp port", []string{"--turn-port", "3478", "--rtc-tcp-port", "3478"}, nil, "turn-port: 3478 is the rtc-tcp-port"},
		{"rtc ip", []string{"--rtc-ip", "10.0.0.1,example.com"}, nil, `rtc-ip: "example.com"`},
		{"rtc listen ip", []string{"--rtc-listen-ip", "localhost"}, nil, "rtc-listen-ip"},
		{"grace not a duration", []string{"--reconnect-grace", "15"}, nil, "--reconnect-grace"},
		{"grace negative", []string{"--reconnect-grace", "-1s"}, nil, "reconnect-grace: -1s"},
		{"grace too long", []string{"--reconnect-grace", "25h"}, nil, "reconnect-grace: 25h"},
		{"seats 1", []string{"--max-seats", "1"}, nil, "max-seats: 1 is not 2..16"},
		{"seats 17", nil, map[string]string{"SEATSFU_MAX_SEATS": "17"}, "max-seats: 17"},
		{"seats not a number", []string{"--max-seats", "ten"}, nil, "--max-seats"},
		{"cohosts 1", []string{"--max-cohosts", "1"}, nil, "max-cohosts: 1 is not 2..9"},
		{"cohosts 10", nil, map[string]string{"SEATSFU_MAX_COHOSTS": "10"}, "max-cohosts: 10"},
		{"egress budget negative", []string{"--egress-budget", "-1"}, nil, "egress-budget: -1 is negative"},
		{"egress floor negative", []string{"--egress-floor", "-1"}, nil, "egress-floor: -1 is negative"},
		{"egress cpu negative", []string{"--egress-cpu", "-1"}, nil, "egress-cpu: -1 is negative"},
		{"egress cpu over 100", nil, map[string]string{"SEATSFU_EGRESS_CPU": "101"}, "egress-cpu: 101 is over 100"},
		{"tcp unsent too small", []string{"--tcp-unsent", "4096"}, nil, "tcp-unsent: 4096 is not between 16384 and 16777216"},
		{"tcp write timeout too long", []string{"--tcp-write-timeout", "1m"}, nil, "tcp-write-timeout: 1m0s is not between 50ms and 10s"},
		{"node keyframes negative", nil, map[string]string{"SEATSFU_NODE_KEYFRAME_REQUESTS": "-5"}, "node-keyframe-requests: -5"},
		{"replay budget negative", nil, map[string]string{"SEATSFU_REPLAY_BUDGET": "-1"}, "replay-budget: -1"},
		{"handshakes negative", []string{"--handshakes", "-1"}, nil, "handshakes: -1 is negative"},
		{"handshake queue 0", nil, map[string]string{"SEATSFU_HANDSHAKE_QUEUE": "0"}, "handshake-queue: 0 is not between 1 and 1048576"},
		{"codec", []string{"--video-codec", "av1"}, nil, `video-codec: "av1"`},
		{"codec case", []string{"--video-codec", "VP8"}, nil, `video-codec: "VP8"`},
		{"log level", []string{"--log-level", "loud"}, nil, "log-level"},
		// cluster.go
		{"redis without secret", []string{"--redis", "redis://127.0.0.1:6379/0", "--node-addr", "10.0.0.1:7"}, nil, "secret: required with redis"},
		{"redis without node-addr", []string{"--secret", "s", "--redis", "redis://127.0.0.1:6379/0"}, nil, "node-addr"},
		{"redis bad url", []string{"--secret", "s", "--redis", "http://x", "--node-addr", "10.0.0.1:7"}, nil, "redis:"},
		{"node-addr no port", []string{"--secret", "s", "--redis", "redis://127.0.0.1:6379/0", "--node-addr", "10.0.0.1"}, nil, "node-addr"},
		{"node-tls-cert alone", []string{"--secret", "s", "--redis", "redis://127.0.0.1:6379/0", "--node-addr", "10.0.0.1:7", "--node-tls-cert", "c.pem"}, nil, "go together"},
		{"node-tls files missing", []string{"--secret", "s", "--redis", "redis://127.0.0.1:6379/0", "--node-addr", "10.0.0.1:7", "--node-tls-cert", "/nonexistent/c.pem", "--node-tls-key", "/nonexistent/c.key", "--node-tls-ca", "/nonexistent/ca.pem"}, nil, "node-tls-cert: node certificate and key"},
		{"tick not under ttl", []string{"--cluster-tick", "3s"}, nil, "cluster-tick: 3s must be shorter"},
		{"lease ttl zero", []string{"--lease-ttl", "0s"}, nil, "lease-ttl: 0s"},
		{"public url", []string{"--public-url", "node1:80"}, nil, "public-url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(tc.args, tc.env, rf, io.Discard)
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
			if !reflect.DeepEqual(c, Config{}) {
				t.Fatalf("an error returned a config: %+v", c)
			}
		})
	}
}

func TestLoadHelp(t *testing.T) {
	var out strings.Builder
	_, err := Load([]string{"-h"}, nil, nil, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err %v, want flag.ErrHelp", err)
	}
	for _, s := range settings {
		if !strings.Contains(out.String(), "-"+s.name) || !strings.Contains(out.String(), s.env()) {
			t.Errorf("usage does not document --%s / $%s:\n%s", s.name, s.env(), out.String())
		}
	}
}

func TestEmptyConfigFileIsDefaults(t *testing.T) {
	c, err := Load([]string{"--config", "e.yaml"}, nil, files(map[string]string{"e.yaml": "# nothing\n"}), io.Discard)
	if err != nil || !reflect.DeepEqual(c, Defaults()) {
		t.Fatalf("%+v %v", c, err)
	}
}
