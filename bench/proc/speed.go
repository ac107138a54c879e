package proc

import (
	"crypto/aes"
	"crypto/cipher"
	"runtime"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// SpeedProbe times a fixed piece of work on one core: the CPU time, user
// and system, of sealing speedPackets RTP-sized packets (a few milliseconds) with AES-GCM and
// walking a buffer larger than a core's L2 — the two things a forwarder's
// packet costs are made of. It runs on a thread pinned to cpu for the
// duration and reports the median of speedRounds rounds.
//
// A virtual machine's core does not run at one speed: the host's other
// tenants, a sibling hyperthread and frequency changes make the same work
// cost more CPU time in one minute than in the next. Measured beside each
// window, the probe tells such a window from a dearer server (issue 16:
// the "first repeat is dearest" pattern followed the machine, not seatsfu).
// Lower is faster.
func SpeedProbe(cpu int) (time.Duration, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var was unix.CPUSet
	if err := unix.SchedGetaffinity(0, &was); err != nil {
		return 0, err
	}
	var on unix.CPUSet
	on.Set(cpu)
	if err := unix.SchedSetaffinity(0, &on); err != nil {
		return 0, err
	}
	defer func() { _ = unix.SchedSetaffinity(0, &was) }()
	w := newSpeedWork()
	rounds := make([]time.Duration, 0, speedRounds)
	for range speedRounds {
		t0, err := threadTime()
		if err != nil {
			return 0, err
		}
		w.run()
		t1, err := threadTime()
		if err != nil {
			return 0, err
		}
		rounds = append(rounds, t1-t0)
	}
	slices.Sort(rounds)
	return rounds[len(rounds)/2], nil
}

const (
	speedRounds  = 5
	speedPackets = 4000
	speedWalk    = 4 << 20 // bytes: past a core's L2 (2 MiB here), inside L3
)

type speedWork struct {
	aead  cipher.AEAD
	pkt   []byte
	out   []byte
	nonce []byte
	walk  []uint64
	sink  uint64
}

func newSpeedWork() *speedWork {
	block, _ := aes.NewCipher(make([]byte, 16)) // a 16-byte key cannot fail
	aead, _ := cipher.NewGCM(block)
	w := &speedWork{aead: aead, pkt: make([]byte, 1200), out: make([]byte, 0, 1300), nonce: make([]byte, 12), walk: make([]uint64, speedWalk/8)}
	for i := range w.walk { // a cycle through the buffer in cache-line strides, out of order
		w.walk[i] = uint64((i*8 + 4099*8) % len(w.walk))
	}
	return w
}

func (w *speedWork) run() {
	for i := range speedPackets {
		w.nonce[0] = byte(i)
		w.out = w.aead.Seal(w.out[:0], w.nonce, w.pkt[12:], w.pkt[:12])
	}
	j := uint64(0)
	for range len(w.walk) / 8 {
		j = w.walk[j]
	}
	w.sink += j
}

// threadTime is the calling thread's CPU time, user and system, to the
// nanosecond (getrusage's is coarser than a round).
func threadTime() (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, err
	}
	return time.Duration(ts.Nano()), nil
}
