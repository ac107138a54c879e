package media

import (
	"sync"
	"testing"
	"time"
)

func TestKeyframeThrottleCoalesces(t *testing.T) {
	k := NewKeyframeThrottle(0)
	if !k.Request(t0) {
		t.Fatal("first request refused")
	}
	if k.Pending(t0) || !k.Due().IsZero() {
		t.Fatal("pending without a refused request")
	}
	// Ten viewers inside the interval: all refused, one pending.
	for i := 0; i < 10; i++ {
		if k.Request(t0.Add(time.Duration(i) * 10 * time.Millisecond)) {
			t.Fatal("request granted inside the interval")
		}
	}
	if due := k.Due(); !due.Equal(t0.Add(DefaultKeyframeInterval)) {
		t.Fatalf("Due = %v", due)
	}
	if k.Pending(t0.Add(499 * time.Millisecond)) {
		t.Fatal("pending granted early")
	}
	if !k.Pending(t0.Add(500 * time.Millisecond)) {
		t.Fatal("pending not granted at the end of the interval")
	}
	if k.Pending(t0.Add(2 * time.Second)) {
		t.Fatal("pending granted twice")
	}
	// The grant started a new interval.
	if k.Request(t0.Add(900 * time.Millisecond)) {
		t.Fatal("request granted within the interval after a pending grant")
	}
	if !k.Request(t0.Add(time.Second)) {
		t.Fatal("request refused after the interval")
	}
}

func TestKeyframeThrottleReset(t *testing.T) {
	k := NewKeyframeThrottle(time.Second)
	k.Request(t0)
	k.Request(t0)
	k.Reset()
	if k.Pending(t0.Add(2 * time.Second)) {
		t.Fatal("pending survived Reset")
	}
	if !k.Request(t0.Add(time.Millisecond)) {
		t.Fatal("request refused right after Reset")
	}
	if !k.Request(t0.Add(-time.Hour)) {
		t.Fatal("clock going backwards locked the throttle")
	}
}

// Many goroutines requesting at the same instant get exactly one grant.
func TestKeyframeThrottleConcurrent(t *testing.T) {
	k := NewKeyframeThrottle(time.Second)
	var wg sync.WaitGroup
	var mu sync.Mutex
	grants := 0
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if k.Request(t0) {
				mu.Lock()
				grants++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if grants != 1 {
		t.Fatalf("%d grants", grants)
	}
	if !k.Pending(t0.Add(time.Second)) {
		t.Fatal("refused requests not remembered")
	}
}

// A caller whose clock reading predates the last grant by a little (it read
// the time, then lost the race for the lock) is inside the window, not
// facing a clock jump.
func TestKeyframeThrottleRacingCallerIsThrottled(t *testing.T) {
	k := NewKeyframeThrottle(500 * time.Millisecond)
	if !k.Request(t0) {
		t.Fatal("first request refused")
	}
	if k.Request(t0.Add(-time.Millisecond)) {
		t.Fatal("a request read 1 ms before the grant was granted too")
	}
	if k.Pending(t0.Add(499 * time.Millisecond)) {
		t.Fatal("granted inside the window")
	}
	if !k.Pending(t0.Add(500 * time.Millisecond)) {
		t.Fatal("the racing request was not remembered")
	}
}
