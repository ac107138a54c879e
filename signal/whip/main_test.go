package whip_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every session's watcher, and every peer connection a test opens, must be
// gone when the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
