package load

import (
	"os"
	"testing"
)

// The split is the per-viewer difference of each part; idle heap is what
// the runtime holds and has not returned.
func TestMemSplitIsPerViewerDifferences(t *testing.T) {
	before := memSample{rssFile: 1000}
	after := memSample{
		"go_memstats_heap_inuse_bytes":    400,
		"go_memstats_heap_idle_bytes":     300,
		"go_memstats_heap_released_bytes": 100,
		"go_memstats_stack_inuse_bytes":   40,
		"go_memstats_mspan_inuse_bytes":   8,
		"go_memstats_gc_sys_bytes":        12,
		"go_memstats_next_gc_bytes":       600,
		rssFile:                           1400,
	}
	got := memSplit(before, after, 4)
	want := MemSplit{HeapInUse: 100, HeapFree: 50, Stacks: 10, Runtime: 5, HeapGoal: 150, FilePages: 100}
	if got == nil || *got != want {
		t.Fatalf("split %+v, want %+v", got, want)
	}
	if memSplit(nil, after, 4) != nil || memSplit(before, after, 0) != nil {
		t.Fatal("a split without both samples or viewers")
	}
}

func TestReadRSSFileOfThisProcess(t *testing.T) {
	v, err := readRSSFile(os.Getpid())
	if err != nil || v <= 0 {
		t.Fatalf("RssFile of this process: %v, %v", v, err)
	}
}
