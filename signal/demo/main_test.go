package demo

import (
	"testing"

	"go.uber.org/goleak"
)

// The browser tests start chromium, fake servers and peer connections; every
// goroutine they start must be gone when the package's tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
