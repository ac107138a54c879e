//go:build race

package nettest

// Under the race detector everything runs several times slower, and a
// loopback box cannot carry the adaptation scenario's real bitrates in real
// time: the uncapped viewer's own pipeline congests. The same scenario then
// runs at a quarter of the bitrates and packets — layers of about 40, 125
// and 375 kbit/s, the cap 250 kbit/s — which exercises the same estimation
// and allocation.
func init() {
	simParts = [3]int{1, 1, 2}
	simPartSize = [3]int{155, 520, 780}
	adaptCapBps = 250_000
	adaptQueueBytes = 16 << 10
}
