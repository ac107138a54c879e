package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/seatsfu/seatsfu/bench/proc"
)

// runProbeMetrics is the hidden `seatbench probe-metrics URL PERIOD CORE`:
// the overload scenario's /metrics probe as a process of its own, pinned
// to CORE (the server's; -1 unpinned), so its timings are the server's and
// not the generator's (bench/load/overload_probe.go). It prints one line
// per scrape, "<ms> ok|fail", until its stdin closes.
func runProbeMetrics(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: seatbench probe-metrics URL PERIOD CORE")
	}
	url := args[0]
	period, err := time.ParseDuration(args[1])
	if err != nil || period <= 0 {
		return fmt.Errorf("probe-metrics: period %q", args[1])
	}
	core, err := strconv.Atoi(args[2])
	if err != nil {
		return fmt.Errorf("probe-metrics: core %q", args[2])
	}
	runtime.GOMAXPROCS(1)
	if core >= 0 {
		if err := proc.PinAll(0, core); err != nil {
			return fmt.Errorf("probe-metrics: pin: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { // the parent closes stdin to stop the probe
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	client := &http.Client{Timeout: 5 * time.Second}
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		start := time.Now()
		ok := scrapeOnce(ctx, client, url)
		d := time.Since(start)
		switch {
		case ctx.Err() != nil && !ok:
			if d >= time.Second { // cut off past the limit: it failed
				fmt.Fprintf(out, "%.3f fail\n", float64(d)/1e6)
			}
			return nil
		case ok:
			fmt.Fprintf(out, "%.3f ok\n", float64(d)/1e6)
		default:
			fmt.Fprintf(out, "%.3f fail\n", float64(d)/1e6)
		}
		out.Flush()
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func scrapeOnce(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err == nil && resp.StatusCode == http.StatusOK
}
