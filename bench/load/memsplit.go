package load

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/seatsfu/seatsfu/bench/proc"
)

// MemSplit breaks a Go server's RSS growth per viewer down into what the
// Go runtime says it holds (issue 16: optimise what is measured). Each
// field is bytes per connected viewer, the difference between the end of
// the window and the moment before the first viewer joined, the same two
// points RSS per viewer is taken at. Read from the go_memstats_* families
// of the server's /metrics; nil for a server without them.
type MemSplit struct {
	// HeapInUse is live objects plus garbage not yet swept: what a heap
	// profile's inuse_space shows, plus the garbage of the current cycle.
	HeapInUse float64 `json:"heapInUse"`
	// HeapFree is heap the runtime holds but has not returned to the
	// kernel (idle spans): GC headroom left behind by the last peak.
	HeapFree float64 `json:"heapFree"`
	// Stacks is goroutine stacks in use.
	Stacks float64 `json:"stacks"`
	// Runtime is the runtime's own books: span structures, GC metadata,
	// per-P caches, profiling buckets.
	Runtime float64 `json:"runtime"`
	// HeapGoal is the heap size at which the next GC starts (what GOGC
	// lets the heap grow to); informational, not part of the sum.
	HeapGoal float64 `json:"heapGoal"`
	// FilePages is RSS backed by files (/proc/<pid>/status RssFile): the
	// binary's code and data first touched since the viewers came — a
	// one-off cost of the code paths viewers run, which the division
	// spreads over them. The rest of RSS is anonymous memory.
	FilePages float64 `json:"filePages"`
}

// memFamilies are the go_memstats_* families a MemSplit is built from.
var memFamilies = []string{
	"go_memstats_heap_inuse_bytes",
	"go_memstats_heap_idle_bytes",
	"go_memstats_heap_released_bytes",
	"go_memstats_stack_inuse_bytes",
	"go_memstats_mspan_inuse_bytes",
	"go_memstats_mcache_inuse_bytes",
	"go_memstats_gc_sys_bytes",
	"go_memstats_other_sys_bytes",
	"go_memstats_buck_hash_sys_bytes",
	"go_memstats_next_gc_bytes",
}

// memSample is one scrape of memFamilies, by name; nil when the server
// has no /metrics or not these families.
type memSample map[string]float64

func readMem(srv Server) memSample {
	if srv.BaseURL == "" {
		return nil
	}
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(srv.BaseURL + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil
	}
	m := memSample{}
	for _, name := range memFamilies {
		v, err := proc.SumMetric(bytes.NewReader(body), name)
		if err != nil {
			return nil
		}
		m[name] = v
	}
	if srv.PID > 0 {
		v, err := readRSSFile(srv.PID)
		if err != nil {
			return nil
		}
		m[rssFile] = v
	}
	return m
}

// memSplit is the per-viewer difference between two samples.
func memSplit(before, after memSample, viewers int) *MemSplit {
	if before == nil || after == nil || viewers <= 0 {
		return nil
	}
	d := func(names ...string) float64 {
		var sum float64
		for _, n := range names {
			sum += after[n] - before[n]
		}
		return sum / float64(viewers)
	}
	return &MemSplit{
		HeapInUse: d("go_memstats_heap_inuse_bytes"),
		HeapFree:  d("go_memstats_heap_idle_bytes") - d("go_memstats_heap_released_bytes"),
		Stacks:    d("go_memstats_stack_inuse_bytes"),
		Runtime: d("go_memstats_mspan_inuse_bytes", "go_memstats_mcache_inuse_bytes",
			"go_memstats_gc_sys_bytes", "go_memstats_other_sys_bytes", "go_memstats_buck_hash_sys_bytes"),
		HeapGoal:  d("go_memstats_next_gc_bytes"),
		FilePages: d(rssFile),
	}
}

// rssFile names a memSample's file-backed RSS, from /proc/<pid>/status.
const rssFile = "RssFile"

// readRSSFile reads a process's file-backed RSS in bytes.
func readRSSFile(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, rssFile+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("load: no %s in /proc/%d/status", rssFile, pid)
}
