package seat

import "testing"

// byteSource reads the machine's choices from fuzz input; once it runs out
// every choice is 0.
type byteSource struct {
	data []byte
}

func (s *byteSource) intn(_ string, n int) int {
	if len(s.data) == 0 {
		return 0
	}
	b := s.data[0]
	s.data = s.data[1:]
	return int(b) % n
}

// maxFuzzInput bounds an input to about 35 operations. The fuzzer minimises
// every input that finds new coverage, and Go's minimiser tries removing
// every sub-slice — about n²/2 runs of an n-byte input, each running its n/4
// operations with a state dump and the invariant checks around every one.
// With the old 4096-byte bound that was most of a 60 s run spent minimising
// (55 s); at 128 bytes one minimisation costs a few seconds at worst. The
// corpus's interesting inputs are 17–32 bytes: a room of at most 5 seats and
// 7 users reaches its states in a few dozen operations.
const maxFuzzInput = 128

// FuzzOps feeds arbitrary operation sequences to the same machine as
// TestProperty, checking the same invariants after every operation.
func FuzzOps(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 6, 3, 2, 3, 0, 9, 1, 3, 16, 4, 1})
	f.Add([]byte{3, 1, 1, 1, 0, 3, 0, 6, 3, 0, 1, 2, 0, 11, 0, 4, 3, 1, 0, 23, 0, 4, 23, 0, 5})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		src := &byteSource{data: data}
		m, err := newMachine(src)
		if err != nil {
			t.Fatal(err)
		}
		for len(src.data) > 0 {
			if err := m.step(src); err != nil {
				t.Fatalf("after %d ops: %v", m.ops, err)
			}
		}
	})
}
