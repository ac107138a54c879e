package signal

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pop takes the oldest frame of a queue without a writer (tests only).
func (q *frameQueue) pop() (outFrame, bool) { return q.next() }

// The queue keeps order across growth and wrap-around, refuses the frame
// past its bound, and never allocates past the bound.
func TestFrameQueueOrderAndBound(t *testing.T) {
	const limit = 10
	q := newFrameQueue(limit, nil)
	if q.frames != nil {
		t.Fatal("an empty queue allocated up front")
	}
	next, want := 0, 0
	push := func() bool {
		ok := q.push(outFrame{data: []byte(strconv.Itoa(next))})
		if ok {
			next++
		}
		return ok
	}
	pop := func() {
		t.Helper()
		f, ok := q.pop()
		if !ok {
			t.Fatalf("pop found nothing, %d queued", next-want)
		}
		if got := string(f.data); got != strconv.Itoa(want) {
			t.Fatalf("popped %s, want %d", got, want)
		}
		want++
	}
	for round := 0; round < 5; round++ {
		for push() {
		}
		if n := q.len(); n != limit {
			t.Fatalf("refused at %d frames, the bound is %d", n, limit)
		}
		if c := cap(q.frames); c > limit {
			t.Fatalf("the queue holds room for %d frames, the bound is %d", c, limit)
		}
		for i := 0; i < 3+round; i++ { // leave some behind so the next round wraps
			pop()
		}
	}
	for q.len() > 0 {
		pop()
	}
	if _, ok := q.pop(); ok {
		t.Fatal("pop on an empty queue found a frame")
	}
}

// A quiet session's queue stays at its starting size.
func TestFrameQueueStaysSmallWhenDrained(t *testing.T) {
	q := newFrameQueue(outQueue, nil)
	for i := 0; i < 1000; i++ {
		if !q.push(outFrame{data: []byte("{}")}) {
			t.Fatal("refused with one frame queued")
		}
		if _, ok := q.pop(); !ok {
			t.Fatal("lost a frame")
		}
	}
	if c := cap(q.frames); c != outQueueStart {
		t.Fatalf("a queue that never held more than one frame grew to %d", c)
	}
}

// writeLog is a write function that records what it is given and checks
// that writers never overlap.
type writeLog struct {
	mu      sync.Mutex
	written []string
	running atomic.Int32
	overlap atomic.Bool
	hold    chan struct{} // when set, every write waits on it
}

func (w *writeLog) write(f outFrame) bool {
	if w.running.Add(1) > 1 {
		w.overlap.Store(true)
	}
	defer w.running.Add(-1)
	if w.hold != nil {
		<-w.hold
	}
	w.mu.Lock()
	w.written = append(w.written, string(f.data))
	w.mu.Unlock()
	return string(f.data) != "stop"
}

func (w *writeLog) frames() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.written...)
}

// idle reports whether no writer runs.
func (q *frameQueue) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return !q.writing
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Frames pushed from many goroutines, in bursts with idle gaps between
// them, are all written, each producer's in its order, by one writer at a
// time, which runs only while frames wait: after each burst it exits, and
// the next burst starts a new one.
func TestFrameQueueWriterRunsOnlyWhileFramesWait(t *testing.T) {
	const producers, perBurst, bursts = 4, 50, 5
	w := &writeLog{}
	q := newFrameQueue(producers*perBurst, w.write)
	sent := 0
	for b := 0; b < bursts; b++ {
		var wg sync.WaitGroup
		for p := 0; p < producers; p++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perBurst; i++ {
					if !q.push(outFrame{data: []byte(strconv.Itoa(p) + "/" + strconv.Itoa(b*perBurst+i))}) {
						t.Errorf("refused a frame under the bound")
						return
					}
				}
			}()
		}
		wg.Wait()
		sent += producers * perBurst
		waitFor(t, "the burst is written", func() bool { return len(w.frames()) == sent })
		waitFor(t, "the writer exits on an empty queue", q.idle)
	}
	if w.overlap.Load() {
		t.Fatal("two writers ran at once")
	}
	next := make([]int, producers) // each producer's next frame number
	for _, f := range w.frames() {
		var p, i int
		for k := range f {
			if f[k] == '/' {
				p, _ = strconv.Atoi(f[:k])
				i, _ = strconv.Atoi(f[k+1:])
			}
		}
		if i != next[p] {
			t.Fatalf("producer %d: wrote frame %d, want %d (order lost)", p, i, next[p])
		}
		next[p]++
	}
	q.stop()
}

// stop waits for the writer's write in progress, writes nothing after it,
// and no push starts a writer again; a write that says stop ends the
// writing the same way.
func TestFrameQueueStopAndEndedWriting(t *testing.T) {
	w := &writeLog{hold: make(chan struct{})}
	q := newFrameQueue(outQueue, w.write)
	for _, f := range []string{"a", "b", "c"} {
		q.push(outFrame{data: []byte(f)})
	}
	waitFor(t, "the writer is in its first write", func() bool { return w.running.Load() == 1 })
	stopped := make(chan struct{})
	go func() { q.stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("stop returned with a write in progress")
	case <-time.After(20 * time.Millisecond):
	}
	close(w.hold) // the write in progress finishes
	<-stopped
	if !q.push(outFrame{data: []byte("d")}) {
		t.Fatal("a push after stop was refused as if the queue were full")
	}
	if got := w.frames(); len(got) != 1 || got[0] != "a" {
		t.Fatalf("wrote %v after stop, want only the write in progress [a]", got)
	}
	if !q.idle() {
		t.Fatal("a push after stop started a writer")
	}

	w = &writeLog{}
	q = newFrameQueue(outQueue, w.write)
	q.push(outFrame{data: []byte("stop")})
	q.push(outFrame{data: []byte("after")})
	waitFor(t, "the writer ends", q.idle)
	q.push(outFrame{data: []byte("later")})
	q.stop()
	if got := w.frames(); len(got) != 1 || got[0] != "stop" {
		t.Fatalf("wrote %v, want nothing after the write that ended the writing", got)
	}
}
