package sfu

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/seatsfu/seatsfu/seat"
)

// interceptorGoroutines counts the running goroutines that are Pion
// interceptor loops. With bareClientAPI's clients every one counted belongs
// to the server.
func interceptorGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "github.com/pion/interceptor/pkg/") && strings.Contains(g, ".loop(") {
			count++
		}
	}
	return count
}

// The interceptor choice of engine.go, counted: a publisher connection runs
// Pion's NACK generator, receiver-report and TWCC feedback loops (one
// each), and viewers — however many — add none, where Pion's defaults would
// cost each viewer three ticker goroutines.
func TestViewerCostsNoInterceptorGoroutines(t *testing.T) {
	s := newTestSFU(t)
	r, _ := openTestRoom(t, s, 2, seat.ModeFree)
	api := bareClientAPI(t)
	startPublisher(t, r, api, "owner", 'O')
	eventually(t, 10*time.Second, "the publisher's interceptor loops", func() bool { return interceptorGoroutines() == 3 })
	var vs []*testViewer
	for i := 0; i < 3; i++ {
		vs = append(vs, startViewer(t, r, api, "v"+string(rune('a'+i)), 2, true))
	}
	for _, v := range vs {
		mid := v.mid(t, 0, "video")
		eventually(t, 10*time.Second, "viewers receiving", func() bool { return v.count(mid) >= 5 })
	}
	if n := interceptorGoroutines(); n != 3 {
		t.Fatalf("%d interceptor loops with one publisher and three viewers, want the publisher's 3", n)
	}
}
