package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatsfu/seatsfu/signal/webhook"
)

// The webhook settings (PROTOCOL.md §11).
var (
	webhookURLSetting = setting{"webhook-url", "comma-separated http(s) `URLs` that receive the rooms' webhooks (default none)",
		func(c *Config, v string) error {
			c.WebhookURLs = splitList(v)
			return nil
		}}
	webhookQueueSetting = setting{"webhook-queue", "events waiting per webhook receiver before new ones are dropped (`n` ≥ 1)",
		func(c *Config, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q is not a number", v)
			}
			c.WebhookQueue = n
			return nil
		}}
)

// maxWebhookQueue keeps a typo from reserving gigabytes.
const maxWebhookQueue = 10_000_000

func (c Config) validateWebhooks() error {
	if err := webhook.ParseURLs(c.WebhookURLs); err != nil {
		return fmt.Errorf("webhook-url: %v", err)
	}
	if c.WebhookQueue < 1 || c.WebhookQueue > maxWebhookQueue {
		return fmt.Errorf("webhook-queue: %d is not 1..%d", c.WebhookQueue, maxWebhookQueue)
	}
	return nil
}

// startWebhooks makes the dispatcher (nil without URLs); stop delivers what
// it can within ctx.
func startWebhooks(cfg Config, secret []byte, reg prometheus.Registerer, log *slog.Logger) (*webhook.Dispatcher, func(ctx context.Context), error) {
	d, err := webhook.New(webhook.Config{
		URLs:       cfg.WebhookURLs,
		Secret:     secret,
		QueueSize:  cfg.WebhookQueue,
		Registerer: reg,
		Logger:     log.With("component", "webhook"),
	})
	if err != nil {
		return nil, nil, err
	}
	stop := func(ctx context.Context) {
		if err := d.Close(ctx); err != nil {
			log.Warn("webhooks: undelivered events dropped at shutdown", "err", err)
		}
	}
	return d, stop, nil
}
