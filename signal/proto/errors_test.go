package proto

import "testing"

// Two reasons with one code would make clients that switch on codes act on
// the wrong one.
func TestCodesAreUnique(t *testing.T) {
	seen := map[int]Reason{}
	for r, c := range codes {
		if other, ok := seen[c]; ok {
			t.Errorf("code %d is both %q and %q", c, r, other)
		}
		seen[c] = r
	}
	if got := Reason("no_such_reason").Code(); got != -32603 {
		t.Errorf("unknown reason's code = %d, want -32603", got)
	}
}
