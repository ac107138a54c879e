package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/seatsfu/seatsfu/sfu"
	"github.com/seatsfu/seatsfu/signal"
	"github.com/seatsfu/seatsfu/signal/demo"
)

// shutdownBudget is how long a graceful stop may take in total; PROTOCOL.md §1
// wants the process gone within 5 s of SIGTERM.
const shutdownBudget = 4 * time.Second

// serve is `seatsfu serve`: it runs the server until ctx is cancelled, then
// shuts it down gracefully.
func serve(ctx context.Context, args []string, env map[string]string, stderr io.Writer) int {
	cfg, err := Load(args, env, readConfigFile, stderr)
	if err != nil {
		return usageExit(stderr, "seatsfu serve", err)
	}
	level, _ := cfg.Level() // validated by Load
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if err := serveConfig(ctx, cfg, log, nil); err != nil {
		log.Error("server failed", "err", err)
		return exitError
	}
	return exitOK
}

// serveConfig wires the parts and serves until ctx ends. ready, when not
// nil, receives the bound HTTP address once /healthz answers.
func serveConfig(ctx context.Context, cfg Config, log *slog.Logger, ready func(addr string)) error {
	secret := []byte(cfg.Secret)
	dev := cfg.DevMode()
	if dev {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return fmt.Errorf("dev secret: %w", err)
		}
		log.Warn("DEV MODE: no --secret/SEATSFU_SECRET configured; using a random token secret, " +
			"serving /demo/token to anyone and advertising loopback candidates. Never expose this server.")
	} else if len(secret) < 32 {
		log.Warn("the token secret is shorter than 32 bytes; HS256 keys should be at least 32 random bytes")
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)

	media, err := sfu.New(sfu.Config{
		UDPPort:            cfg.RTCUDPPort,
		ListenIP:           cfg.RTCListenIP,
		IPs:                cfg.RTCIPs,
		IncludeLoopback:    dev,
		ICETCP:             cfg.TCPPort() != 0,
		TCPPort:            cfg.TCPPort(),
		TURN:               cfg.TURNPort != 0,
		TURNPort:           cfg.TURNPort,
		TURNSecret:         secret,
		TURNMaxAllocations: cfg.TURNMaxAllocs,
		VideoCodec:         cfg.VideoCodec,
		MaxCohosts:         cfg.MaxCohosts,
		Overload:           cfg.Overload.sfu(),
		PionEgress:         !cfg.EgressDirect,
		ViewerTransport:    cfg.ViewerTransport,
		DemuxQueue:         cfg.DemuxQueue,
		TCPUnsent:          cfg.TCPUnsent,
		TCPWriteTimeout:    cfg.TCPWriteTimeout,
		Adapt:              cfg.Adapt.sfu(),
		Logger:             log, // sfu tags its own records component=sfu
		Registerer:         reg,
	})
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	defer func() {
		if err := media.Close(); err != nil {
			log.Warn("media close", "err", err)
		}
	}()

	clusterCfg, err := cfg.Cluster.open(reg) // cluster.go; nil without --redis
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if clusterCfg != nil {
		defer func() { _ = clusterCfg.Store.Close() }()
	}
	hooks, stopHooks, err := startWebhooks(cfg, secret, reg, log)
	if err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}

	edge, err := signal.New(signal.Config{
		Secret:         secret,
		DevMode:        dev,
		ReconnectGrace: cfg.ReconnectGrace,
		MaxSeats:       cfg.MaxSeats,
		MaxCohosts:     cfg.MaxCohosts,
		MaxMembers:     cfg.MaxMembers,
		Limits:         cfg.Limits.signal(),
		SFU:            media,
		Registry:       reg,
		Logger:         log.With("component", "signal"),
		Demo:           demo.Handler(),
		Cluster:        clusterCfg,
		Webhooks:       hooks,
	})
	if err != nil {
		return fmt.Errorf("signal: %w", err)
	}

	ln, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	ln = edge.Listen(ln) // the connection caps, counted where connections arrive
	mux := http.NewServeMux()
	// The listener is bound before the server starts, so a client that sees
	// /healthz answer can connect: readiness means accepting connections.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.Handle("/", edge.Handler())
	hs := edge.HTTPServer(mux, slog.NewLogLogger(log.Handler(), slog.LevelWarn))
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	addr := ln.Addr().String()
	url := openURL(addr)
	log.Info("seatsfu ready: open "+url, "demo", url+"/", "signal", "ws"+url[len("http"):]+"/v1/rtc",
		"metrics", url+"/metrics", "listen", addr, "rtc_udp_port", media.Addr().Port, "rtc_tcp_port", cfg.TCPPort(), "turn_port", cfg.TURNPort,
		"video_codec", cfg.VideoCodec, "max_seats", cfg.MaxSeats, "dev_mode", dev, "version", versionString(),
		"node", edge.NodeID())
	if ready != nil {
		ready(addr)
	}

	select {
	case err := <-served:
		// Serve only returns on its own when the listener broke.
		_ = edge.Shutdown(context.Background())
		stopHooks(context.Background())
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}

	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownBudget)
	defer cancel()
	// Stop accepting first, then end every room (each client hears
	// room.ended server_shutdown and its socket closes), then the media
	// (deferred above). WebSockets are hijacked, so hs.Shutdown does not wait
	// for them; edge.Shutdown does.
	var errs []error
	if err := hs.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	if err := edge.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("signal shutdown: %w", err))
	}
	stopHooks(sctx) // after the rooms' room.ended events were queued
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, fmt.Errorf("http: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		// A slow client is no reason for a non-zero exit after a requested
		// stop; say what happened and finish.
		log.Warn("shutdown was not clean", "err", err)
	}
	log.Info("stopped")
	return nil
}
